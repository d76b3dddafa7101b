import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createXXHash3 } from 'hash-wasm'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { cmpFiles, readRange, writeRandomFile } from './helpers/tmp.js'
import { withTempDir } from './helpers/native.js'

const KiB = 1024
const MiB = 1024 * KiB
const ROOT = fileURLToPath(new URL('..', import.meta.url))

interface CliRun {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI from source in the repo root and waits for it. */
function cli(args: string[]): CliRun {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000,
  })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

/** The one JSON object stdout must hold: exactly one non-empty line. */
function onlyJson(run: CliRun): Record<string, unknown> {
  const lines = run.stdout.split('\n').filter((line) => line.trim() !== '')
  assert.is(lines.length, 1, `stdout should be one JSON line, got:\n${run.stdout}\nstderr:\n${run.stderr}`)
  const value: unknown = JSON.parse(lines[0] ?? '')
  assert.type(value, 'object')
  return value as Record<string, unknown>
}

/**
 * The digest the CLI should report for bytes [offset, +length) of file,
 * computed here on its own: xxh3-64 of each chunk (chunk edges on absolute
 * multiples of chunkBytes in the source), then xxh3-64 of the concatenated
 * 8-byte big-endian chunk digests.
 */
async function expectedDigest(file: string, offset: number, length: number, chunkBytes: number): Promise<string> {
  const h = await createXXHash3()
  const digests: Buffer[] = []
  for (let at = offset; at < offset + length; ) {
    const end = Math.min(offset + length, (Math.floor(at / chunkBytes) + 1) * chunkBytes)
    h.init()
    h.update(readRange(file, at, end - at))
    digests.push(Buffer.from(h.digest('hex'), 'hex'))
    at = end
  }
  h.init()
  h.update(Buffer.concat(digests))
  return h.digest('hex')
}

test('copy --json --verify hash exits 0, prints one result object and the destination is byte-exact', async () => {
  await withTempDir('cli-copy', async (dir) => {
    const [src, dst] = [join(dir, 'src.bin'), join(dir, 'dst.bin')]
    const size = 3 * MiB + 123
    writeRandomFile(src, size, 11)
    const run = cli(['copy', src, dst, '--json', '--verify', 'hash', '--threads', '2', '--progress', 'none'])
    assert.is(run.status, 0, run.stderr)
    const out = onlyJson(run)
    assert.is(out.ok, true)
    assert.is(out.totalBytes, size)
    assert.is(out.completedBytes, size)
    assert.equal(out.destinations, [dst])
    assert.is(out.chunkBytes, MiB)
    assert.is(out.digest, await expectedDigest(src, 0, size, MiB))
    assert.is(statSync(dst).size, size)
    assert.ok(cmpFiles(src, dst))
  })
})

test('units in --src-offset, --length and --dst-offset copy exactly those bytes and leave the rest of the destination alone', async () => {
  await withTempDir('cli-copy', (dir) => {
    const [src, dst, before] = [join(dir, 'src.bin'), join(dir, 'dst.bin'), join(dir, 'before.bin')]
    writeRandomFile(src, 3 * MiB, 21)
    writeRandomFile(dst, 2 * MiB, 22)
    writeRandomFile(before, 2 * MiB, 22)
    const run = cli(['copy', src, dst, '--src-offset', '8s', '--length', '1MiB', '--dst-offset', '4KiB', '--threads', '2', '--json'])
    assert.is(run.status, 0, run.stderr)
    assert.is(onlyJson(run).totalBytes, MiB)
    assert.is(statSync(dst).size, 2 * MiB)
    assert.ok(cmpFiles(src, dst, { aOffset: 4096, bOffset: 4 * KiB, length: MiB }), 'the copied range differs from the source')
    assert.ok(cmpFiles(before, dst, { length: 4 * KiB }), 'bytes before --dst-offset changed')
    const after = 4 * KiB + MiB
    assert.ok(cmpFiles(before, dst, { aOffset: after, bOffset: after }), 'bytes after the copied range changed')
  })
})

test('one --dst-offset per DST puts each copy at its own offset', async () => {
  await withTempDir('cli-copy', (dir) => {
    const [src, a, b] = [join(dir, 'src.bin'), join(dir, 'a.bin'), join(dir, 'b.bin')]
    const size = MiB + 4097
    writeRandomFile(src, size, 31)
    const run = cli(['copy', src, a, b, '--dst-offset', '0', '--dst-offset', '1MiB', '--threads', '2', '--json'])
    assert.is(run.status, 0, run.stderr)
    assert.is(onlyJson(run).ok, true)
    assert.is(statSync(a).size, size)
    assert.is(statSync(b).size, MiB + size)
    assert.ok(cmpFiles(src, a))
    assert.ok(cmpFiles(src, b, { bOffset: MiB }))
    // A file created with a hole in front: its first MiB reads as zeros.
    assert.ok(readRange(b, 0, MiB).equals(Buffer.alloc(MiB)))
  })
})

test('--dst-offset given 3 times for 2 destinations exits 2 naming --dst-offset and creates nothing', async () => {
  await withTempDir('cli-copy', (dir) => {
    const [src, a, b] = [join(dir, 'src.bin'), join(dir, 'a.bin'), join(dir, 'b.bin')]
    writeRandomFile(src, 64 * KiB, 41)
    const run = cli(['copy', src, a, b, '--dst-offset', '0', '--dst-offset', '4KiB', '--dst-offset', '8KiB', '--json'])
    assert.is(run.status, 2, run.stderr)
    assert.match(run.stderr, /--dst-offset/)
    assert.match(run.stderr, /3 times/)
    const out = onlyJson(run)
    assert.is(out.ok, false)
    assert.is((out.error as { code?: unknown }).code, 'INVALID_ARGUMENT')
    assert.not.ok(existsSync(a))
    assert.not.ok(existsSync(b))
  })
})

test('--verify readback on two destinations exits 0 and both are byte-exact', async () => {
  await withTempDir('cli-copy', (dir) => {
    const [src, a, b] = [join(dir, 'src.bin'), join(dir, 'a.bin'), join(dir, 'b.bin')]
    const size = 2 * MiB + 5000
    writeRandomFile(src, size, 51)
    const run = cli(['copy', src, a, b, '--verify', 'readback', '--threads', '2', '--json'])
    assert.is(run.status, 0, run.stderr)
    const out = onlyJson(run)
    assert.is(out.ok, true)
    assert.is(out.verify, 'readback')
    assert.equal(out.errors, [])
    assert.ok(cmpFiles(src, a))
    assert.ok(cmpFiles(src, b))
  })
})

test.run()
