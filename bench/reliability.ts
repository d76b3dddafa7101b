/**
 * Issue 5's figures: faults injected, detected, retried and reported, and
 * bytes lost or silently wrong (must be 0), per scenario; a SIGKILL crash
 * loop and the bytes it re-copies; throttle accuracy. Real faults: faultfs
 * (FUSE), libfiu, a full tmpfs. Needs root, fuse3 + python3-pyfuse3,
 * fiu-utils. Writes a Markdown table to stdout and JSON to --json FILE.
 *
 *   npm run bench:reliability [-- --json reliability.json]
 */
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createClient, type CopyResult } from '../src/index.js'
import { mountFaultFsIn } from '../test/helpers/faultfs.js'
import { killLoop } from '../test/helpers/kill-loop.js'
import { mountTmpfs, unmount } from '../test/helpers/mounts.js'
import { writeRandomFile } from '../test/helpers/tmp.js'

const MiB = 1024 * 1024
const work = mkdtempSync(join('/var/tmp', 'blockcopy-bench-reliability-'))
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : undefined

interface Row {
  scenario: string
  /** Faults the injector reports having injected; 'random' (libfiu: a share of calls) or 'real' (a full file system). */
  injected: number | string
  retried: number
  reported: string
  lostBytes: number
  wrongBytes: number
}
const rows: Row[] = []

/** Bytes that differ between a and b over [offset, offset + length). */
function differing(a: string, b: string, offset: number, length: number): number {
  const fa = openSync(a, 'r')
  const fb = openSync(b, 'r')
  const ba = Buffer.alloc(MiB)
  const bb = Buffer.alloc(MiB)
  let n = 0
  try {
    for (let at = offset; at < offset + length; at += MiB) {
      const len = Math.min(MiB, offset + length - at)
      readSync(fa, ba, 0, len, at)
      readSync(fb, bb, 0, len, at)
      for (let i = 0; i < len; i++) if (ba[i] !== bb[i]) n++
    }
  } finally {
    closeSync(fa)
    closeSync(fb)
  }
  return n
}

/** Silently wrong: bytes the result calls completed that differ on any destination. */
const wrongIn = (r: CopyResult, src: string, dsts: string[]) =>
  r.completed.reduce((n, e) => n + dsts.reduce((m, d) => m + differing(src, d, e.offset, e.length), 0), 0)

/** Lost: bytes neither completed nor named in a failure. */
function lostIn(r: CopyResult): number {
  const spans = [...r.completed.map((e) => [e.offset, e.offset + e.length]), ...r.errors.map((e) => [e.offset, e.offset + e.length])].sort((x, y) => (x[0] as number) - (y[0] as number))
  let covered = 0
  let end = 0
  for (const [a, b] of spans as Array<[number, number]>) {
    if (b <= end) continue
    covered += b - Math.max(a, end)
    end = b
  }
  return r.totalBytes - covered
}

const badBytes = (r: CopyResult) => r.errors.reduce((n, e) => n + e.length, 0)

async function faultfsScenarios(): Promise<void> {
  const client = await createClient({ threads: 2, chunkBytes: MiB })
  const cases: Array<{ name: string; rules: object[]; dsts: number; opts: object }> = [
    { name: 'faultfs: EIO in one 4 KiB block of a 64 MiB source', rules: [{ op: 'read', path: 'src.img', offset: 37 * MiB + 12288, length: 4096, errno: 'EIO' }], dsts: 1, opts: { ignoreErrors: true } },
    { name: 'faultfs: EAGAIN ×3 on reads, ETIMEDOUT ×2 on writes', rules: [{ op: 'read', path: 'src.img', offset: 3 * MiB, length: 4096, errno: 'EAGAIN', times: 3 }, { op: 'write', path: 'dst0.img', offset: 9 * MiB, length: 4096, errno: 'ETIMEDOUT', times: 2 }], dsts: 1, opts: {} },
    { name: 'faultfs: EIO writing destination 2 of 3', rules: [{ op: 'write', path: 'dst1.img', offset: 20 * MiB, length: 4096, errno: 'EIO' }], dsts: 3, opts: { ignoreErrors: true, verify: 'readback' } },
  ]
  for (const c of cases) {
    const dir = mkdtempSync(join(work, 'ffs-'))
    const fs = await mountFaultFsIn(dir, [])
    if (typeof fs === 'string') throw new Error(fs)
    try {
      const backingSrc = join(fs.backingDir, 'src.img')
      writeRandomFile(backingSrc, 64 * MiB, 7)
      fs.setRules(c.rules as never)
      const dsts = Array.from({ length: c.dsts }, (_, i) => join(fs.mountDir, `dst${i}.img`))
      const r = await client.copy({ path: join(fs.mountDir, 'src.img') }, dsts.map((path) => ({ path })), c.opts).result
      fs.setRules([])
      const backingDsts = dsts.map((_, i) => join(fs.backingDir, `dst${i}.img`))
      rows.push({
        scenario: c.name, injected: fs.events().length, retried: r.retries,
        reported: r.errors.length === 0 ? 'none (all retried)' : `${r.errors.length} ranges, ${badBytes(r)} B (${[...new Set(r.errors.map((e) => e.code))].join(', ')})`,
        lostBytes: lostIn(r), wrongBytes: wrongIn(r, backingSrc, backingDsts),
      })
    } finally {
      await fs.unmount()
    }
  }
  // A destination that fills up.
  const small = join(work, 'small')
  await mountTmpfs(small, MiB)
  try {
    const src = join(work, 'src4.img')
    writeRandomFile(src, 4 * MiB, 9)
    const dsts = [join(work, 'a.img'), join(small, 'b.img'), join(work, 'c.img')]
    const r = await client.copy({ path: src }, dsts.map((path) => ({ path })), { ignoreErrors: true, verify: 'readback' }).result
    rows.push({
      scenario: 'ENOSPC: destination 2 of 3 on a 1 MiB tmpfs', injected: 'real', retried: r.retries,
      reported: `${r.errors.length} ranges, ${badBytes(r)} B (${[...new Set(r.errors.map((e) => e.code))].join(', ')})`,
      lostBytes: lostIn(r), wrongBytes: wrongIn(r, src, dsts),
    })
  } finally {
    await unmount(small)
  }
  await client.destroy()
}

/** The fixture test/fixtures/fiu-copy.ts under fiu-run, with failures turned on once it is warm. */
async function fiuScenario(name: string, points: string[]): Promise<void> {
  const src = join(work, 'fiu-src.img')
  writeRandomFile(src, 64 * MiB, 11)
  const dsts = [join(work, 'fiu-a.img'), join(work, 'fiu-b.img')]
  for (const d of dsts) rmSync(d, { force: true })
  const child = spawn('fiu-run', ['-x', process.execPath, '--import', 'tsx', 'test/fixtures/fiu-copy.ts', src, ...dsts])
  let out = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise((done) => child.on('exit', done))
  while (!/^ready (\d+)$/m.test(out)) await new Promise((done) => setTimeout(done, 20))
  const pid = /^ready (\d+)$/m.exec(out)?.[1] as string
  for (const p of points) spawnSync('fiu-ctrl', ['-c', p, pid])
  child.stdin.write('go\n')
  await exited
  const r = JSON.parse(out.slice(out.indexOf('{'))) as CopyResult
  rows.push({
    scenario: name, injected: 'random', retried: r.retries,
    reported: r.errors.length === 0 ? 'none (all retried)' : `${r.errors.length} ranges, ${badBytes(r)} B (${[...new Set(r.errors.map((e) => e.code))].join(', ')})`,
    lostBytes: lostIn(r), wrongBytes: wrongIn(r, src, dsts),
  })
}

async function crashLoop(): Promise<object> {
  const size = 512 * MiB
  const rate = 32 * MiB
  const interval = 250
  const src = join(work, 'crash-src.img')
  const dst = join(work, 'crash-dst.img')
  const map = join(work, 'crash.map')
  writeRandomFile(src, size, 13)
  const args = ['--import', 'tsx', 'src/cli/bin.ts', 'copy', src, dst, '--map', map, '--map-interval', String(interval), '--rate', String(rate), '--threads', '4', '--progress', 'none']
  const kills = await killLoop({ args, map, kills: 20, maxDelayMs: 1500 })
  const recopied = kills.reduce((n, k) => n + k.recopiedBytes, 0)
  const worst = Math.max(...kills.map((k) => k.recopiedBytes))
  const last = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'copy', src, dst, '--map', map, '--progress', 'none'])
  const exact = spawnSync('cmp', [src, dst]).status === 0
  return { kills: 20, sizeBytes: size, rateBytesPerSec: rate, intervalMs: interval, recopiedBytes: recopied, worstKillBytes: worst, boundBytes: 8 * MiB + rate * (interval / 1000), finalExit: last.status, byteExact: exact }
}

async function throttle(): Promise<object[]> {
  const out = []
  const src = join(work, 'rate-src.img')
  writeRandomFile(src, 512 * MiB, 15)
  // Four seconds at each limit, so the first chunk (which starts at once) and the final sync weigh little.
  for (const rate of [16 * MiB, 64 * MiB, 128 * MiB]) {
    const client = await createClient({ threads: 2, chunkBytes: MiB, rateBytesPerSec: rate })
    const bytes = rate * 4
    const r = await client.copy({ path: src, offset: 0, length: bytes }, [{ path: join(work, 'rate-dst.img') }]).result
    await client.destroy()
    const measured = r.completedBytes / (r.elapsedMs / 1000)
    out.push({ limitMiBps: rate / MiB, measuredMiBps: +(measured / MiB).toFixed(2), ratio: +(measured / rate).toFixed(3) })
  }
  return out
}

async function main(): Promise<void> {
  try {
    await faultfsScenarios()
    await fiuScenario('libfiu: EIO on 1 % of pread/pwrite calls', ['enable_random name=posix/io/rw/pread,probability=0.01,failinfo=5', 'enable_random name=posix/io/rw/pwrite,probability=0.01,failinfo=5'])
    await fiuScenario('libfiu: EAGAIN on 2 % of pread/pwrite calls', ['enable_random name=posix/io/rw/pread,probability=0.02,failinfo=11', 'enable_random name=posix/io/rw/pwrite,probability=0.02,failinfo=11'])
    const crash = await crashLoop()
    const rates = await throttle()
    console.log('| scenario | injected | retried | reported | bytes lost | bytes silently wrong |\n|---|---|---|---|---|---|')
    for (const r of rows) console.log(`| ${r.scenario} | ${r.injected} | ${r.retried} | ${r.reported} | ${r.lostBytes} | ${r.wrongBytes} |`)
    console.log(`\ncrash loop: ${JSON.stringify(crash)}\nthrottle: ${JSON.stringify(rates)}`)
    if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify({ rows, crash, rates }, null, 2)}\n`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

void main()
