import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CopyResult } from '../src/index.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('libfiu: random pread/pwrite failures never end in success over wrong bytes')
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MiB = 1024 * 1024
const SIZE = 32 * MiB
let dir: string

test.before.each(() => {
  dir = makeTempDir('copy-fiu')
})
test.after.each(() => {
  removeTempDir(dir)
})

function unavailable(): string | null {
  if (spawnSync('fiu-run', ['-h']).error) return 'fiu-run is not installed (apt-get install fiu-utils)'
  return skipUnlessRoot('libfiu control pipes in /tmp')
}

/** Runs the fixture under fiu-run, turns failures on once it is warm, and returns the copy's result. */
async function copyUnderFiu(src: string, dsts: string[], points: string[]): Promise<CopyResult> {
  const child = spawn('fiu-run', ['-x', process.execPath, '--import', 'tsx', 'test/fixtures/fiu-copy.ts', src, ...dsts], { cwd: ROOT })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr.on('data', (b: Buffer) => (err += b.toString()))
  const exited = new Promise<number | null>((done) => child.on('exit', (c) => done(c)))
  for (let waited = 0; !/^ready (\d+)$/m.test(out); waited += 20) {
    if (waited > 30_000 || child.exitCode !== null) throw new Error(`the fixture did not start: ${out}${err}`)
    await new Promise((done) => setTimeout(done, 20))
  }
  const pid = /^ready (\d+)$/m.exec(out)?.[1] as string
  for (const p of points) {
    const ctl = spawnSync('fiu-ctrl', ['-c', p, pid], { encoding: 'utf8' })
    assert.is(ctl.stderr.trim(), '', `fiu-ctrl ${p}`)
  }
  child.stdin.write('go\n')
  assert.is(await exited, 0, err)
  return JSON.parse(out.slice(out.indexOf('{'))) as CopyResult
}

/** Byte ranges (relative to the range) that the result accounts for: completed, or named as failed. */
function accounted(r: CopyResult): Array<[number, number]> {
  const spans: Array<[number, number]> = [
    ...r.completed.map((e): [number, number] => [e.offset, e.offset + e.length]),
    ...r.errors.map((e): [number, number] => [e.offset, e.offset + e.length]),
  ].sort((a, b) => a[0] - b[0])
  const out: Array<[number, number]> = []
  for (const s of spans) {
    const last = out[out.length - 1]
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1])
    else out.push([...s])
  }
  return out
}

test('EIO on 1 % of preads and pwrites: every completed extent is byte-exact on both destinations, and completed plus reported ranges cover the copy', async () => {
  const why = unavailable()
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 81)
  const dsts = [join(dir, 'a.img'), join(dir, 'b.img')]
  const r = await copyUnderFiu(src, dsts, [
    'enable_random name=posix/io/rw/pread,probability=0.01,failinfo=5',
    'enable_random name=posix/io/rw/pwrite,probability=0.01,failinfo=5',
  ])
  assert.ok(r.errors.length > 0, 'faults were injected and reported')
  assert.is(r.ok, false)
  for (const e of r.completed) {
    for (const d of dsts) assert.ok(cmpFiles(src, d, { aOffset: e.offset, bOffset: e.offset, length: e.length }), `${d} at ${e.offset}+${e.length}`)
  }
  assert.equal(accounted(r), [[0, SIZE]], 'no byte unaccounted for')
  console.log(`EIO: ${r.errors.length} failed ranges (${r.errors.reduce((n, e) => n + e.length, 0)} bytes) reported, ${r.completedBytes} bytes completed and verified, ${r.retries} retries`)
})

test('EAGAIN on 2 % of preads and pwrites: retried, counted, and the copy is byte-exact', async () => {
  const why = unavailable()
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 82)
  const dsts = [join(dir, 'a.img'), join(dir, 'b.img')]
  const r = await copyUnderFiu(src, dsts, [
    'enable_random name=posix/io/rw/pread,probability=0.02,failinfo=11',
    'enable_random name=posix/io/rw/pwrite,probability=0.02,failinfo=11',
  ])
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(r.retries > 0, 'retries happened and were counted')
  for (const d of dsts) assert.ok(cmpFiles(src, d), d)
  console.log(`EAGAIN: ${r.retries} retries, all overcome; byte-exact`)
})

test.run()
