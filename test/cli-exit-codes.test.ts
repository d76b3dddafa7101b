import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { mountFaultFs } from './helpers/faultfs.js'
import { mountTmpfs, unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const MiB = 1024 * 1024
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = ['--import', 'tsx', 'src/cli/bin.ts']

interface CliRun {
  status: number | null
  stdout: string
  stderr: string
}

interface Extent {
  offset: number
  length: number
}

interface Failure {
  dest: number
  offset: number
  length: number
  code: string
}

interface Result {
  ok: boolean
  cancelled: boolean
  writeErr: number
  totalBytes: number
  completedBytes: number
  completed: Extent[]
  errors: Failure[]
}

/** Runs the CLI from source in the repo root and waits for it. */
function cli(args: string[]): CliRun {
  const run = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

/** The one JSON object stdout must hold. */
function onlyJson(run: CliRun): Result {
  const lines = run.stdout.split('\n').filter((line) => line.trim() !== '')
  assert.is(lines.length, 1, `stdout should be one JSON line, got:\n${run.stdout}\nstderr:\n${run.stderr}`)
  return JSON.parse(lines[0] ?? '') as Result
}

/** Every extent the result calls completed holds the source's bytes in the destination (same offsets). */
function assertCompletedExact(src: string, dst: string, r: Result): void {
  for (const e of r.completed) {
    assert.ok(cmpFiles(src, dst, { aOffset: e.offset, bOffset: e.offset, length: e.length }), `completed extent ${e.offset}+${e.length} differs`)
  }
  assert.is(r.completed.reduce((n, e) => n + e.length, 0), r.completedBytes)
}

test('a destination that runs out of space exits 3, names the destination and ENOSPC, and lists it in the JSON result', async () => {
  const why = skipUnlessRoot('mounts a tmpfs')
  if (why) return logSkip(why)
  const dir = makeTempDir('cli-exit-enospc')
  const mnt = join(dir, 'small')
  try {
    const src = join(dir, 'src.bin')
    writeRandomFile(src, 4 * MiB, 61)
    await mountTmpfs(mnt, MiB)
    try {
      const dst = join(mnt, 'dst.bin')
      const human = cli(['copy', src, dst, '--threads', '2', '--progress', 'none'])
      assert.is(human.status, 3, `stdout:\n${human.stdout}\nstderr:\n${human.stderr}`)
      assert.match(human.stdout, new RegExp(`^error: destination 1 \\(${dst}\\) is full \\(no space left on the device\\): bytes \\d+\\.\\.\\d+ not written \\[ENOSPC from pwrite\\]$`, 'm'))
      // A longer source has chunks it never started, which are no errors of their own: the summary says where the copy stands.
      const long = join(dir, 'long.bin')
      writeRandomFile(long, 16 * MiB, 62)
      rmSync(dst)
      const stopped = cli(['copy', long, dst, '--threads', '2', '--progress', 'none'])
      assert.is(stopped.status, 3)
      assert.match(stopped.stdout, /^stopped after an error: [\d.]+ \w+ of 16\.00 MiB on every destination, the rest not \(or not surely\) written; completed extents: (none|[\d+ ]+)$/m)
      // Where every chunk ran (the 4 MiB copy above: all in flight when the first failed), no such line.
      assert.not.match(human.stdout, /^stopped after an error/m)

      rmSync(dst)
      const run = cli(['copy', src, dst, '--threads', '2', '--progress', 'none', '--json'])
      assert.is(run.status, 3, run.stderr)
      const r = onlyJson(run)
      assert.is(r.ok, false)
      assert.is(r.writeErr, 1)
      assert.ok(r.errors.length > 0)
      assert.ok(r.errors.every((e) => e.dest === 0), JSON.stringify(r.errors))
      assert.ok(r.errors.some((e) => e.code === 'ENOSPC'), JSON.stringify(r.errors))
      assert.ok(r.completedBytes < r.totalBytes)
      assertCompletedExact(src, dst, r)
    } finally {
      await unmount(mnt)
    }
  } finally {
    removeTempDir(dir)
  }
})

/** Spawns the CLI, sends SIGINT after the first NDJSON progress line on stderr, and waits for it to exit. */
function interruptAfterFirstProgress(args: string[]): Promise<CliRun & { progressLines: number; signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let signalled = false
    const limit = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text
    })
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text
      if (!signalled && /^\{"event":"progress".*\}$/m.test(stderr)) {
        signalled = true
        child.kill('SIGINT')
      }
    })
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(limit)
      const progressLines = stderr.split('\n').filter((line) => line.startsWith('{"event":"progress"')).length
      resolve({ status: code, stdout, stderr, progressLines, signalled })
    })
  })
}

test('SIGINT after the first progress line exits 130 with cancelled true and every completed extent byte-exact', async () => {
  const dir = makeTempDir('cli-exit-sigint')
  try {
    mkdirSync(join(dir, 'backing'))
    mkdirSync(join(dir, 'mnt'))
    const size = 32 * MiB
    const backingSrc = join(dir, 'backing', 'src.bin')
    writeRandomFile(backingSrc, size, 71)
    // Every read of the source answers late, so the copy takes seconds and the
    // signal lands while chunks are still to be started.
    const fs = await mountFaultFs(join(dir, 'backing'), join(dir, 'mnt'), [{ op: 'read', path: 'src.bin', delayMs: 40 }])
    if (typeof fs === 'string') return logSkip(fs)
    try {
      const dst = join(dir, 'dst.bin')
      const run = await interruptAfterFirstProgress([
        'copy', join(fs.mountDir, 'src.bin'), dst, '--threads', '2', '--progress', 'ndjson', '--json',
      ])
      assert.ok(run.signalled, `no progress line on stderr:\n${run.stderr}`)
      assert.is(run.status, 130, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
      assert.match(run.stderr, /interrupted/)
      const r = onlyJson(run)
      assert.is(r.cancelled, true)
      assert.is(r.ok, false)
      assert.is(r.writeErr, 0)
      assert.equal(r.errors, [])
      assert.is(r.totalBytes, size)
      assert.ok(r.completedBytes > 0, 'the chunk reported before the signal is not in completed')
      assert.ok(r.completedBytes < size, `the copy finished (${r.completedBytes} bytes) before the signal stopped it`)
      assert.ok(run.progressLines >= 1)
      assertCompletedExact(backingSrc, dst, r)
    } finally {
      await fs.unmount()
    }
  } finally {
    removeTempDir(dir)
  }
})

test.run()
