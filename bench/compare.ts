/**
 * The comparison (issue 6, part 3): on one generated file, in one run,
 * interleaved (order rotated every round), caches dropped before every run
 * when root: blockcopy copy (--verify none at each --chunks size, hash,
 * readback) against cp+sync, dd with O_DIRECT, qemu-img convert, dcfldd
 * hash=md5 and ddrescue; blockcopy hash against xxhsum -H3 and b3sum; and
 * the ceiling, fio reading and writing at once with O_DIRECT. Prints
 * medians, min/max and each ratio blockcopy / tool; writes JSON and an SVG
 * chart. Tools that are not installed are named as skipped. With several
 * --size values (e.g. 256MiB,2GiB,8GiB) it also shows how blockcopy scales.
 *
 *   npm run bench:compare -- [--size 2GiB] [--runs 3] [--chunks 256KiB,1MiB,4MiB]
 *                            [--dir DIR] [--json FILE] [--svg FILE] [--tools blockcopy-none,cp,...]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parseSize } from '../src/units.js'
import { compareTools, type Tool } from './lib/compare-tools.js'
import { runTimed } from './lib/contenders.js'
import { median } from './lib/report.js'
import { writeRandomFile } from './lib/source.js'
import { chart } from './lib/svg.js'
import { dropCaches, freeBytes, hasGnuTime, machineInfo, makeDefaultWorkDir, syncAll } from './lib/system.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const GNU_TIME = '/usr/bin/time'
const MB = 1e6
const log = (line: string) => process.stderr.write(`${line}\n`)

interface Result {
  tool: string
  kind: Tool['kind']
  label: string
  chunkBytes?: number
  mbps: number[]
  peakRssKiB: number[]
  medianMBps: number
  minMBps: number
  maxMBps: number
  medianPeakRssKiB: number | null
  identical: boolean | null
}

function options() {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '2GiB' }, runs: { type: 'string', default: '3' }, chunks: { type: 'string', default: '256KiB,1MiB,4MiB' },
      dir: { type: 'string' }, json: { type: 'string', default: 'compare.json' }, svg: { type: 'string', default: 'compare.svg' },
      tools: { type: 'string' },
    },
    strict: true,
  })
  const sizes = (values.size as string).split(',').map((s) => parseSize(s.trim(), '--size'))
  const runs = Number(values.runs)
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs: '${String(values.runs)}' is not a whole number of at least 1`)
  const chunks = (values.chunks as string).split(',').map((s) => parseSize(s.trim(), '--chunks'))
  // --tools a,b: only the tools whose name starts with one of these (blockcopy-none, cp, fio...).
  const only = values.tools === undefined ? null : (values.tools as string).split(',').map((t) => t.trim())
  return { sizes, runs, chunks, only, dir: values.dir, json: values.json as string, svg: values.svg as string }
}

const installed = (program: string) => spawnSync('/bin/sh', ['-c', 'command -v "$1"', 'sh', program]).status === 0

/** The compiled CLI when it is built, else the TypeScript one through tsx. */
function blockcopyArgv(): string[] {
  if (existsSync(join(repoRoot, 'dist', 'src', 'cli', 'bin.js'))) return [process.execPath, join(repoRoot, 'bin', 'blockcopy.js')]
  return [process.execPath, '--import', 'tsx', join(repoRoot, 'src', 'cli', 'bin.ts')]
}

/** Times one run; peak RSS through GNU time when it is there. */
async function timed(argv: string[], rssFile: string): Promise<{ ms: number; rssKiB: number | null; ok: boolean; err: string }> {
  if (hasGnuTime(GNU_TIME)) {
    const m = await runTimed(GNU_TIME, rssFile, argv)
    return { ms: m.elapsedMs, rssKiB: Number.isFinite(m.peakRssKiB) ? m.peakRssKiB : null, ok: m.exitCode === 0, err: m.stderr }
  }
  const started = performance.now()
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8' })
  return { ms: performance.now() - started, rssKiB: null, ok: r.status === 0, err: r.stderr }
}

async function compareAt(size: number, o: ReturnType<typeof options>, work: string, tools: Tool[]): Promise<Result[]> {
  const src = join(work, 'source.bin')
  const dst = join(work, 'copy.bin')
  const cold = process.getuid?.() === 0
  await writeRandomFile(src, size, () => false)
  const results = new Map<string, Result>(tools.map((t) => [t.name, {
    tool: t.name, kind: t.kind, label: t.label, ...(t.chunkBytes ? { chunkBytes: t.chunkBytes } : {}),
    mbps: [], peakRssKiB: [], medianMBps: 0, minMBps: 0, maxMBps: 0, medianPeakRssKiB: null, identical: null,
  }]))
  for (let round = 0; round < o.runs; round++) {
    const order = tools.map((_, i) => tools[(i + round) % tools.length] as Tool)
    for (const t of order) {
      rmSync(dst, { force: true })
      rmSync(`${dst}.map`, { force: true })
      if (cold) dropCaches()
      else syncAll()
      const m = await timed(t.command(src, dst, size), join(work, 'rss.txt'))
      const r = results.get(t.name) as Result
      if (!m.ok) throw new Error(`${t.label} failed: ${m.err.trim().slice(-500)}`)
      r.mbps.push(size / MB / (m.ms / 1000))
      if (m.rssKiB !== null) r.peakRssKiB.push(m.rssKiB)
      if (round === 0 && t.kind === 'copy') r.identical = spawnSync('cmp', ['--', src, dst]).status === 0
      log(`${(size / 2 ** 20).toFixed(0)} MiB, round ${round + 1}/${o.runs}: ${t.label.padEnd(44)} ${(size / MB / (m.ms / 1000)).toFixed(0).padStart(6)} MB/s`)
    }
  }
  rmSync(dst, { force: true })
  rmSync(src, { force: true })
  for (const r of results.values()) {
    r.medianMBps = median(r.mbps)
    r.minMBps = Math.min(...r.mbps)
    r.maxMBps = Math.max(...r.mbps)
    r.medianPeakRssKiB = r.peakRssKiB.length > 0 ? median(r.peakRssKiB) : null
  }
  return [...results.values()]
}

/** blockcopy / tool, for the row blockcopy is compared by (1 MiB chunks, or the first size given). */
function ratios(rs: Result[], main: number): Array<{ blockcopy: string; tool: string; ratio: number }> {
  const find = (name: string) => rs.find((r) => r.tool === name)
  const copy = find(`blockcopy-none-${main}`)
  const hash = find('blockcopy-hash-file')
  const out = []
  for (const r of rs) {
    if (r.tool.startsWith('blockcopy')) continue
    const ours = r.kind === 'hash' ? hash : copy
    if (ours) out.push({ blockcopy: ours.label, tool: r.label, ratio: +(ours.medianMBps / r.medianMBps).toFixed(3) })
  }
  return out
}

async function main(): Promise<void> {
  const o = options()
  const work = o.dir ? mkdtempSync(join(resolve(o.dir), 'blockcopy-compare-')) : makeDefaultWorkDir(repoRoot)
  try {
    const need = 2 * Math.max(...o.sizes) + 64 * 2 ** 20
    if (freeBytes(work) < need) throw new Error(`--dir: ${work} has ${freeBytes(work)} bytes free; the largest --size needs ${need}`)
    const all = compareTools(blockcopyArgv(), o.chunks).filter((t) => o.only === null || o.only.some((p) => t.name.startsWith(p)))
    const skipped = all.filter((t) => t.needs.some((n) => !installed(n.program)))
    for (const t of skipped) {
      const missing = t.needs.filter((n) => !installed(n.program))
      log(`skipped: ${t.label} (not installed: ${missing.map((n) => n.program).join(', ')}; apt-get install ${missing.map((n) => n.apt).join(' ')})`)
    }
    const tools = all.filter((t) => !skipped.includes(t))
    const main1 = o.chunks.includes(2 ** 20) ? 2 ** 20 : (o.chunks[0] as number)
    const bySize = []
    for (const size of o.sizes) {
      const results = await compareAt(size, o, work, tools)
      bySize.push({ sizeBytes: size, results, ratios: ratios(results, main1) })
    }
    const last = bySize[bySize.length - 1] as (typeof bySize)[number]
    const lines = [`size ${(last.sizeBytes / 2 ** 20).toFixed(0)} MiB, ${o.runs} runs each, interleaved, ${process.getuid?.() === 0 ? 'caches dropped before every run' : 'WARM caches (not root)'}`, '',
      `${'tool'.padEnd(46)}${'median MB/s'.padStart(12)}${'min-max'.padStart(14)}${'peak RSS MiB'.padStart(14)}  byte-exact`]
    for (const r of last.results) {
      lines.push(`${r.label.padEnd(46)}${r.medianMBps.toFixed(0).padStart(12)}${`${r.minMBps.toFixed(0)}-${r.maxMBps.toFixed(0)}`.padStart(14)}${(r.medianPeakRssKiB === null ? '-' : (r.medianPeakRssKiB / 1024).toFixed(1)).padStart(14)}  ${r.identical === null ? '' : r.identical ? 'yes' : 'NO'}`)
    }
    lines.push('', 'ratios, blockcopy / tool (above 1: blockcopy is faster):')
    for (const q of last.ratios) lines.push(`  ${q.blockcopy} / ${q.tool}: ${q.ratio.toFixed(2)}`)
    if (bySize.length > 1) {
      lines.push('', 'scaling of blockcopy copy --verify none:', `${'size'.padEnd(12)}${'median MB/s'.padStart(12)}${'peak RSS MiB'.padStart(14)}`)
      for (const s of bySize) {
        const r = s.results.find((x) => x.tool === `blockcopy-none-${main1}`)
        if (r) lines.push(`${`${(s.sizeBytes / 2 ** 20).toFixed(0)} MiB`.padEnd(12)}${r.medianMBps.toFixed(0).padStart(12)}${(r.medianPeakRssKiB === null ? '-' : (r.medianPeakRssKiB / 1024).toFixed(1)).padStart(14)}`)
      }
    }
    if (skipped.length > 0) lines.push('', `skipped (not installed): ${skipped.map((t) => t.label).join('; ')}`)
    process.stdout.write(`${lines.join('\n')}\n`)
    writeFileSync(o.json, `${JSON.stringify({ benchmark: 'compare', date: new Date().toISOString(), machine: machineInfo(), runs: o.runs, chunks: o.chunks, skipped: skipped.map((t) => ({ tool: t.name, label: t.label, needs: t.needs })), sizes: bySize }, null, 2)}\n`)
    const bars = last.results.filter((r) => r.kind !== 'hash').map((r) => ({ label: r.label, medianMBps: r.medianMBps, minMBps: r.minMBps, maxMBps: r.maxMBps, blockcopy: r.tool.startsWith('blockcopy') }))
    const byChunk = last.results.filter((r) => r.tool.startsWith('blockcopy-none-')).map((r) => ({ chunkBytes: r.chunkBytes as number, medianMBps: r.medianMBps }))
    writeFileSync(o.svg, chart(`copy of ${(last.sizeBytes / 2 ** 20).toFixed(0)} MiB: MB/s per tool (blockcopy in blue)`, bars, byChunk))
    log(`wrote ${o.json} and ${o.svg}`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  log(`error: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 2
})
