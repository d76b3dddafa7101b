import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { hasProgram } from './helpers/mounts.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir } from './helpers/tmp.js'

const test = suite('bench:compare, at a small size')
const ROOT = fileURLToPath(new URL('..', import.meta.url))
let dir: string

test.before.each(() => {
  dir = makeTempDir('bench-compare')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** A PATH with only these programs (from the system's), so the others are really missing. */
function pathWith(programs: string[]): string {
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  for (const p of programs) {
    const found = spawnSync('/bin/sh', ['-c', 'command -v "$1"', 'sh', p], { encoding: 'utf8' }).stdout.trim()
    if (found) symlinkSync(found, join(bin, p))
  }
  return bin
}

test('tools that are not installed are named as skipped with their apt package; the rest are compared, with ratios, JSON and a well-formed SVG', () => {
  // The other tools are hidden on purpose; xxhsum is the peer the hash ratio is checked against.
  if (!hasProgram('xxhsum')) return logSkip('xxhsum is not installed (apt-get install xxhash)')
  const PATH = pathWith(['sh', 'bash', 'cp', 'dd', 'sync', 'cmp', 'xxhsum'])
  const json = join(dir, 'compare.json')
  const svg = join(dir, 'compare.svg')
  const work = join(dir, 'work')
  mkdirSync(work)
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/compare.ts', '--size', '8MiB', '--runs', '1', '--chunks', '256KiB,1MiB', '--dir', work, '--json', json, '--svg', svg], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH }, timeout: 300_000,
  })
  assert.is(run.status, 0, run.stderr)
  for (const [tool, apt] of [['qemu-img', 'qemu-utils'], ['dcfldd', 'dcfldd'], ['ddrescue', 'gddrescue'], ['b3sum', 'b3sum'], ['fio', 'fio']]) {
    assert.match(run.stderr, new RegExp(`^skipped: .*\\(not installed: ${tool}; apt-get install ${apt}\\)$`, 'm'), tool)
  }
  assert.match(run.stdout, /^skipped \(not installed\): /m)
  assert.match(run.stdout, /^ {2}blockcopy copy --verify none --chunk 1024KiB \/ cp && sync: \d+\.\d\d$/m)
  assert.match(run.stdout, /^ {2}blockcopy hash \/ xxhsum -H3: \d+\.\d\d$/m)

  const doc = JSON.parse(readFileSync(json, 'utf8')) as { skipped: Array<{ tool: string }>; sizes: Array<{ results: Array<{ tool: string; identical: boolean | null; mbps: number[] }>; ratios: unknown[] }> }
  assert.equal(doc.skipped.map((s) => s.tool).sort(), ['b3sum', 'dcfldd', 'ddrescue', 'fio', 'qemu-img'])
  const results = doc.sizes[0]?.results ?? []
  assert.equal(results.map((r) => r.tool), [
    'blockcopy-none-262144', 'blockcopy-none-1048576', 'blockcopy-hash-1048576', 'blockcopy-readback-1048576', 'cp', 'dd', 'blockcopy-hash-file', 'xxhsum',
  ])
  for (const r of results) {
    assert.is(r.mbps.length, 1)
    if (!['blockcopy-hash-file', 'xxhsum'].includes(r.tool)) assert.is(r.identical, true, `${r.tool} copy is byte-exact`)
  }

  // Well-formed XML, checked by a real parser; one bar per copy tool, one point per chunk size.
  const parsed = spawnSync('python3', ['-c', 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); print(d.documentElement.tagName, len(d.getElementsByTagName("rect")), len(d.getElementsByTagName("circle")))', svg], { encoding: 'utf8' })
  assert.is(parsed.status, 0, parsed.stderr)
  // The background plus six bars (four blockcopy copies, cp, dd); two chunk sizes.
  assert.is(parsed.stdout.trim(), 'svg 7 2')
})

test.run()
