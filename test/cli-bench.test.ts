import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { readdirSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli, spawnCli } from './helpers/cli.js'
import { makeTempDir, removeTempDir } from './helpers/tmp.js'

const test = suite('blockcopy bench')
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-bench')
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(['bench', ...args], { timeoutMs: 120_000 })

const FIO_PERCENTILES = ['1', '5', '10', '20', '30', '40', '50', '60', '70', '80', '90', '95', '99', '99.5', '99.9', '99.95', '99.99']

interface Doc {
  version: number
  options: { sizeBytes: number; chunks: number[]; threads: number[]; destinations: number; verify: string }
  percentiles: number[]
  rows: Array<{
    chunkBytes: number
    threads: number
    runs: unknown[]
    minThroughputBytesPerSec: number
    maxThroughputBytesPerSec: number
    median: {
      throughputBytesPerSec: number
      cpuPercent: number
      peakRssBytes: number
      timing: { syncMs: number; phases: Record<string, { busyMs: number; bytes: number; bytesPerSecPerWorker: number; percentilesMs: Record<string, number> }> }
    }
  }>
}

test('--json: one document, every phase with fio\'s percentiles, one row per swept chunk size, files removed', () => {
  const run = cli(['--size', '8MiB', '--chunk', '256KiB,1MiB', '--threads', '2', '--runs', '2', '--verify', 'readback', '--destinations', '2', '--target', dir, '--json'])
  assert.is(run.status, 0, run.stderr)
  assert.is(run.stdout.trim().split('\n').length, 1, 'nothing but the document on stdout')
  const doc = JSON.parse(run.stdout) as Doc
  assert.is(doc.version, 1)
  assert.equal(doc.rows.map((r) => [r.chunkBytes, r.threads, r.runs.length]), [[256 * 1024, 2, 2], [1024 * 1024, 2, 2]])
  for (const r of doc.rows) {
    const m = r.median
    assert.ok(m.throughputBytesPerSec > 0 && m.cpuPercent > 0 && m.peakRssBytes > 0)
    assert.ok(r.minThroughputBytesPerSec <= m.throughputBytesPerSec && m.throughputBytesPerSec <= r.maxThroughputBytesPerSec)
    assert.ok(m.timing.syncMs >= 0)
    for (const phase of ['read', 'hash', 'write', 'readback', 'chunk']) {
      const p = m.timing.phases[phase]
      assert.ok(p, phase)
      assert.equal(Object.keys(p?.percentilesMs ?? {}), FIO_PERCENTILES, phase)
      assert.ok((p?.busyMs ?? 0) > 0 && (p?.bytesPerSecPerWorker ?? 0) > 0, phase)
      const ps = FIO_PERCENTILES.map((k) => p?.percentilesMs[k] ?? -1)
      assert.equal(ps, [...ps].sort((a, b) => a - b), `${phase} percentiles ascend`)
    }
    // Two destinations: writes and read-backs move the source twice.
    assert.is(m.timing.phases.write?.bytes, 2 * 8 * 1024 * 1024)
    assert.is(m.timing.phases.readback?.bytes, 2 * 8 * 1024 * 1024)
    assert.is(m.timing.phases.read?.bytes, 8 * 1024 * 1024)
  }
  assert.equal(readdirSync(dir), [], 'the generated files are removed')
})

test('a thread sweep gives one row per value; the table has a header and one line per row', () => {
  const run = cli(['--size', '4MiB', '--threads', '1,2', '--runs', '1', '--target', dir])
  assert.is(run.status, 0, run.stderr)
  const lines = run.stdout.trim().split('\n')
  assert.is(lines.length, 3)
  assert.match(lines[0] as string, /^chunk +threads +throughput \(min - max\) +CPU % +peak RSS +read per worker, p50\/p99 ms +write/)
  assert.match(lines[1] as string, /^1\.00 MiB +1 /)
  assert.match(lines[2] as string, /^1\.00 MiB +2 /)
  assert.not.match(run.stdout, /hash per worker|readback per worker/, 'phases that did not run are not shown')
})

test('one unit for every rate: each run\'s line and the table give the same figure in binary units per second', () => {
  const run = cli(['--size', '4MiB', '--threads', '2', '--runs', '1', '--target', dir])
  assert.is(run.status, 0, run.stderr)
  const runLine = /run 1\/1: (\d+\.\d\d [KMGT]iB\/s)$/m.exec(run.stderr)
  assert.ok(runLine, run.stderr)
  // One run: the median, the least and the most are that run, as its line printed it.
  const speed = runLine?.[1] as string
  const row = run.stdout.trim().split('\n')[1] as string
  assert.ok(row.includes(`${speed} (${speed} - ${speed})`), row)
  // Every phase's rate per worker is in the same units.
  assert.is(row.match(/\d+\.\d\d [KMGT]iB\/s \d+\.\d\d\/\d+\.\d\d/g)?.length, 2, row)
  assert.not.match(run.stdout + run.stderr, /\b[kMGT]B\/s/, 'no decimal units')
})

test('bad input: exit 2 with the option named, and nothing written', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--target', join(dir, 'missing')], /--target: .*missing does not exist/],
    [['--size', '100TiB', '--target', dir], /--target: .* free; the run needs 200\.00 TiB/],
    [['--size', 'lots', '--target', dir], /--size: "lots" is not a size/],
    [['--chunk', '1MiB,3KiB', '--target', dir], /--chunk: must be a whole number from 65536/],
    [['--runs', '0', '--target', dir], /--runs: '0' is not a whole number from 1 to 100/],
    [['--destinations', '9', '--target', dir], /--destinations: '9' is not a whole number from 1 to 8/],
    [['--direct', '--buffered', '--target', dir], /--direct: and --buffered exclude each other/],
    [['--bogus'], /unknown option '--bogus'/],
  ]
  for (const [args, why] of cases) {
    const run = cli(args)
    assert.is(run.status, 2, `${args.join(' ')}: ${run.stderr}`)
    assert.match(run.stderr, why)
  }
  assert.equal(readdirSync(dir), [])
})

/** A bench running in the background, with what it wrote to stderr so far. */
interface Running {
  child: ChildProcessWithoutNullStreams
  stderr: () => string
  /** Resolves once stderr matches `re`; rejects if the bench ends first. */
  said: (re: RegExp) => Promise<void>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function start(args: string[]): Running {
  const child = spawnCli(['bench', ...args])
  let err = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (text: string) => {
    err += text
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.on('exit', (code, signal) => done({ code, signal }))
  })
  const said = (re: RegExp) => new Promise<void>((done, fail) => {
    const check = () => {
      if (!re.test(err)) return
      child.stderr.off('data', check)
      done()
    }
    child.stderr.on('data', check)
    void exited.then(() => fail(new Error(`the bench ended before saying ${String(re)}:\n${err}`)))
    check()
  })
  return { child, stderr: () => err, said, exited }
}

test('SIGINT during the runs: the copy stops, its files are removed, it says so, exit 130', async () => {
  writeFileSync(join(dir, 'keep.txt'), 'the user\'s own file')
  const bench = start(['--size', '64MiB', '--runs', '100', '--threads', '2', '--target', dir])
  await bench.said(/run 1\/100: /)
  bench.child.kill('SIGINT')
  const end = await bench.exited
  assert.equal(end, { code: 130, signal: null }, bench.stderr())
  assert.match(bench.stderr(), /\nblockcopy: bench interrupted; removed its files \(.*blockcopy-bench-\w+\)\n$/)
  assert.equal(readdirSync(dir), ['keep.txt'], 'only what was there before')
})

test('SIGTERM while the source is being written: the same, exit 130', async () => {
  const bench = start(['--size', '1GiB', '--runs', '1', '--target', dir])
  await bench.said(/writing a 1\.00 GiB source in /)
  bench.child.kill('SIGTERM')
  const end = await bench.exited
  assert.equal(end, { code: 130, signal: null }, bench.stderr())
  assert.match(bench.stderr(), /blockcopy: bench interrupted; removed its files \(.*blockcopy-bench-\w+\)\n$/)
  assert.equal(readdirSync(dir), [])
})

test('a second signal exits at once, and still removes the files', async () => {
  const bench = start(['--size', '256MiB', '--runs', '100', '--threads', '2', '--target', dir])
  await bench.said(/run 1\/100: /)
  bench.child.kill('SIGINT')
  await bench.said(/interrupted; stopping the bench/)
  bench.child.kill('SIGINT')
  const end = await bench.exited
  assert.equal(end, { code: 130, signal: null }, bench.stderr())
  assert.match(bench.stderr(), /blockcopy: bench interrupted; removed its files \(.*blockcopy-bench-\w+\)\n$/)
  assert.equal(readdirSync(dir), [])
})

test('--json, interrupted: one object on stdout that says so, and nothing left behind', async () => {
  const child = spawnCli(['bench', '--size', '1GiB', '--runs', '1', '--target', dir, '--json'])
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (text: string) => {
    out += text
  })
  // Nothing is said on stderr with --json: the work directory appearing shows it has started.
  await new Promise<void>((done) => {
    const w = watch(dir, () => {
      w.close()
      done()
    })
  })
  child.kill('SIGINT')
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)))
  assert.is(code, 130)
  const doc = JSON.parse(out) as { ok: boolean; error: { code: string; message: string } }
  assert.is(doc.ok, false)
  assert.is(doc.error.code, 'CANCELLED')
  assert.match(doc.error.message, /bench interrupted; removed its files/)
  assert.equal(readdirSync(dir), [])
})

test.run()
