import type { ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli, spawnCli } from './helpers/cli.js'
import { readManifest, unknownCount, type CopyResult } from '../src/index.js'
import { mountFaultFsIn, type FaultFs } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy copy --since: runs killed or interrupted part-way')
const MiB = 1024 * 1024
const SIZE = 6 * MiB + 17
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-since-failed')
})
test.after.each(() => {
  removeTempDir(dir)
})

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))

const cli = (args: string[]) => runCli(args)

interface Setup {
  fault: FaultFs
  src: string
  original: string
  dst: string
  m: string
}

/**
 * The destination on faultfs, copied in full and hashed into its manifest;
 * then the whole source changes, and writes to the destination are slowed so
 * that a run can be stopped part-way.
 */
async function setup(): Promise<Setup | string> {
  const fault = await mountFaultFsIn(dir, [])
  if (typeof fault === 'string') return fault
  const s = { fault, src: join(dir, 'src.img'), original: join(dir, 'original.img'), dst: join(fault.mountDir, 'dst.img'), m: join(dir, 'dst.bcm') }
  writeRandomFile(s.original, SIZE, 51)
  copyFileSync(s.original, s.src)
  assert.is(cli(['copy', s.src, s.dst]).status, 0)
  // Small chunks: many more than run at once, so a stop lands part-way.
  assert.is(cli(['hash', s.dst, '-o', s.m, '--chunk', '64KiB']).status, 0)
  writeRandomFile(s.src, SIZE, 52)
  fault.setRules([{ op: 'write', path: 'dst.img', delayMs: 150 }])
  return s
}

/** Starts an incremental run and resolves once its manifest file says a copy is under way (format version 2). */
async function startRun(s: Setup, extra: string[] = []): Promise<{ child: ChildProcess; out: () => string; exited: Promise<number | null> }> {
  const child = spawnCli(['copy', s.src, s.dst, '--since', s.m, ...extra])
  let out = ''
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)))
  for (let waited = 0; ; waited += 20) {
    if (existsSync(s.m) && readFileSync(s.m).readUInt16LE(8) === 2) break
    if (waited > 30_000 || child.exitCode !== null) throw new Error(`the run never marked its manifest: ${out}`)
    await sleep(20)
  }
  return { child, out: () => out, exited }
}

test('killed (SIGKILL) part-way: the manifest on disk trusts no chunk, and the next run puts every one back', async () => {
  const s = await setup()
  if (typeof s === 'string') return logSkip(s)
  try {
    const run = await startRun(s)
    // Some chunks get written, at 150 ms a request.
    await sleep(400)
    run.child.kill('SIGKILL')
    await run.exited
    const left = await readManifest(s.m)
    assert.is(unknownCount(left), left.chunkCount, 'every chunk unknown')

    s.fault.setRules([])
    // Back to what the manifest described before the killed run: an old manifest would skip every chunk.
    copyFileSync(s.original, s.src)
    const again = cli(['copy', s.src, s.dst, '--since', s.m, '--json'])
    assert.is(again.status, 0, again.stderr)
    const r = JSON.parse(again.stdout) as CopyResult
    assert.is(r.incremental?.writtenBytes, SIZE)
    assert.ok(cmpFiles(s.src, s.dst), 'byte-exact')
    assert.is(unknownCount(await readManifest(s.m)), 0)
  } finally {
    await s.fault.unmount()
  }
})

test('interrupted (SIGINT): running chunks finish, and the manifest records what was written, so the next run rewrites only that', async () => {
  const s = await setup()
  if (typeof s === 'string') return logSkip(s)
  try {
    const run = await startRun(s, ['--json'])
    await sleep(400)
    run.child.kill('SIGINT')
    const code = await run.exited
    assert.is(code, 130, run.out())
    const json = run.out().slice(run.out().indexOf('{'))
    const stopped = JSON.parse(json) as CopyResult
    assert.is(stopped.cancelled, true)
    assert.ok(stopped.completedBytes > 0 && stopped.completedBytes < SIZE, `${stopped.completedBytes} bytes written`)
    const left = await readManifest(s.m)
    assert.is(unknownCount(left), 0, 'finished chunks are known: new where written, old elsewhere')

    s.fault.setRules([])
    copyFileSync(s.original, s.src)
    const again = cli(['copy', s.src, s.dst, '--since', s.m, '--json'])
    assert.is(again.status, 0, again.stderr)
    const r = JSON.parse(again.stdout) as CopyResult
    assert.is(r.incremental?.writtenBytes, stopped.completedBytes, 'exactly the chunks the interrupted run wrote')
    assert.ok(cmpFiles(s.src, s.dst), 'byte-exact')
  } finally {
    await s.fault.unmount()
  }
})

test.run()
