import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

import { cliArgs, ROOT, runCli } from './helpers/cli.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('the command line holds the memory budget')
const MiB = 1024 * 1024
const TIME = '/usr/bin/time'
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-memory-budget')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Runs `blockcopy ARGS` under GNU time: its exit status, output, and peak RSS in bytes. */
function measured(args: string[]) {
  const run = spawnSync(TIME, ['-f', 'peak-rss-kib %M', process.execPath, ...cliArgs(args)], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  const m = /peak-rss-kib (\d+)\s*$/.exec(run.stderr)
  assert.ok(m, `no peak RSS from ${TIME}: ${run.stderr}`)
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, rssBytes: Number(m[1]) * 1024 }
}

/**
 * Peak RSS of the smallest copy: one worker with 64 KiB chunks. What a
 * command adds over it is its workers' buffers and any workers beyond one,
 * which the 64 MiB default budget bounds: the buffers by construction, the
 * rest by having no more workers than the buffers fit.
 */
function baseline(): number {
  const [src, dst] = [join(dir, 'tiny.img'), join(dir, 'tiny-copy.img')]
  writeRandomFile(src, 64 * 1024, 1)
  const r = measured(['copy', src, dst, '--threads', '1', '--chunk', '64KiB', '--progress', 'none'])
  assert.is(r.status, 0, r.stderr)
  return r.rssBytes
}

/** GNU time, if it is there and runs: a path that exists but cannot be executed is as good as missing. */
function needTime(): string | null {
  try {
    accessSync(TIME, constants.X_OK)
    return null
  } catch {
    return `${TIME} is missing (apt-get install time)`
  }
}

test('--threads 64 --chunk 16MiB without --memory is refused with the budget it needs, before anything is created', () => {
  const [src, dst] = [join(dir, 'src.img'), join(dir, 'dst.img')]
  writeRandomFile(src, MiB, 2)
  const run = runCli(['copy', src, dst, '--threads', '64', '--chunk', '16MiB', '--progress', 'none'])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /--threads: 64 with --chunk 16MiB needs --memory 2097664KiB \(2 buffers of the chunk \+ 4KiB per thread\); the default budget is 64MiB/)
  assert.not.ok(existsSync(dst), 'nothing created')
  const small = runCli(['copy', src, dst, '--memory', '1MiB', '--progress', 'none', '--json'])
  assert.is(small.status, 2)
  assert.match(small.stdout, /"--memory: 1MiB cannot hold one thread's 2 buffers of the default 1MiB chunks \+ 4KiB; give --memory 2056KiB or more, or a smaller --chunk"/)
  assert.not.ok(existsSync(dst), 'nothing created')
})

test('copy --chunk 16MiB alone runs as many workers as 64 MiB holds: its peak RSS stays within the budget of the smallest copy\'s', () => {
  const why = needTime()
  if (why) return logSkip(why)
  const base = baseline()
  const [src, dst] = [join(dir, 'src.img'), join(dir, 'dst.img')]
  writeRandomFile(src, 64 * MiB, 3)
  // Read-back fills both buffers of every worker that takes a chunk.
  const r = measured(['copy', src, dst, '--chunk', '16MiB', '--verify', 'readback', '--progress', 'none'])
  assert.is(r.status, 0, r.stderr)
  assert.ok(cmpFiles(src, dst))
  const over = r.rssBytes - base
  assert.ok(over <= 64 * MiB, `peak RSS ${(r.rssBytes / MiB).toFixed(0)} MiB, ${(over / MiB).toFixed(0)} MiB over the smallest copy's ${(base / MiB).toFixed(0)} MiB`)
})

test('a 16 MiB manifest holds the budget too: verify --manifest and copy --since without --memory', () => {
  const why = needTime()
  if (why) return logSkip(why)
  const base = baseline()
  const [src, replica, manifest] = [join(dir, 'src.img'), join(dir, 'replica.img'), join(dir, 'src.bcm')]
  writeRandomFile(src, 64 * MiB, 4)
  writeRandomFile(replica, 64 * MiB, 4)
  assert.is(runCli(['hash', src, '--chunk', '16MiB', '-o', manifest, '--progress', 'none']).status, 0)
  const v = measured(['verify', '--manifest', manifest, src, replica, '--progress', 'none'])
  assert.is(v.status, 0, v.stdout + v.stderr)
  assert.ok(v.rssBytes - base <= 64 * MiB, `verify: peak RSS ${(v.rssBytes / MiB).toFixed(0)} MiB against ${(base / MiB).toFixed(0)} MiB`)

  // The replica's manifest is the source's: --since writes the chunks that differ.
  writeRandomFile(src, 64 * MiB, 5)
  const c = measured(['copy', src, replica, '--since', manifest, '--progress', 'none'])
  assert.is(c.status, 0, c.stdout + c.stderr)
  assert.ok(cmpFiles(src, replica))
  assert.ok(c.rssBytes - base <= 64 * MiB, `copy --since: peak RSS ${(c.rssBytes / MiB).toFixed(0)} MiB against ${(base / MiB).toFixed(0)} MiB`)
  // Threads asked for that the manifest's chunks do not fit are refused, naming where the chunk size came from.
  const refused = runCli(['copy', src, replica, '--since', manifest, '--threads', '8', '--progress', 'none'])
  assert.is(refused.status, 2)
  assert.match(refused.stderr, /--threads: 8 with the manifest's 16MiB chunks needs --memory 262208KiB/)
})

test.run()
