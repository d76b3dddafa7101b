import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { readManifest, type CopyResult } from '../src/index.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy copy --since')
const MiB = 1024 * 1024
const SIZE = 6 * MiB + 17
let dir: string
let src: string
let dst: string
let m: string

test.before.each(() => {
  dir = makeTempDir('cli-since')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
  m = join(dir, 'dst.bcm')
  writeRandomFile(src, SIZE, 41)
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(args)

function poke(path: string, at: number): void {
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from('changed'), 0, 7, at)
  closeSync(fd)
}

/** First full copy, then the destination's manifest, as an operator seeds the incremental runs. */
function seed(): void {
  assert.is(cli(['copy', src, dst]).status, 0)
  assert.is(cli(['hash', dst, '-o', m]).status, 0)
}

test('writes only what changed, says so, and updates the manifest for the next run', async () => {
  seed()
  poke(src, 2 * MiB + 100)
  // Across the boundary of chunks 4 and 5.
  poke(src, 5 * MiB - 3)
  const run = cli(['copy', src, dst, '--since', m])
  assert.is(run.status, 0, run.stderr)
  assert.match(run.stdout, /incremental: wrote 3 chunks \(3\.00 MiB\) that changed, skipped 4 \(3\.00 MiB\) unchanged/)
  assert.match(run.stdout, /manifest .*dst\.bcm updated/)
  assert.ok(cmpFiles(src, dst))
  const hashed = cli(['hash', dst, '--json'])
  const root = (JSON.parse(hashed.stdout) as { files: Array<{ root: string }> }).files[0]?.root
  assert.is((await readManifest(m)).root, root)

  const again = cli(['copy', src, dst, '--since', m, '--json'])
  assert.is(again.status, 0)
  const r = JSON.parse(again.stdout) as CopyResult & { manifest: string }
  assert.equal([r.incremental?.writtenBytes, r.incremental?.skippedBytes, r.incremental?.writeAll, r.incremental?.reason], [0, SIZE, false, null])
  assert.is(r.manifest, m)
})

test('a manifest of 16 MiB chunks, the largest: the workers are sized for them without --chunk', async () => {
  assert.is(cli(['copy', src, dst]).status, 0)
  assert.is(cli(['hash', dst, '--chunk', '16MiB', '-o', m]).status, 0)
  poke(src, 100)
  const run = cli(['copy', src, dst, '--since', m, '--json'])
  assert.is(run.status, 0, run.stderr)
  const r = JSON.parse(run.stdout) as CopyResult
  assert.equal([r.incremental?.writtenBytes, r.incremental?.skippedBytes, r.incremental?.writeAll, r.incremental?.reason], [SIZE, 0, false, null])
  assert.ok(cmpFiles(src, dst))
  assert.is((await readManifest(m)).chunkBytes, 16 * MiB)
})

test('a destination changed behind the manifest\'s back is refused (exit 2, untouched); --force writes every chunk', () => {
  seed()
  poke(src, 100)
  poke(dst, 0)
  const before = readFileSync(dst)
  const manifestBefore = readFileSync(m)
  const run = cli(['copy', src, dst, '--since', m])
  assert.is(run.status, 2)
  assert.match(run.stderr, /MANIFEST_MISMATCH: --since: chunk 0 of .*dst\.img .* the destination is not in the state the manifest records/)
  assert.ok(readFileSync(dst).equals(before))
  assert.ok(readFileSync(m).equals(manifestBefore))
  const forced = cli(['copy', src, dst, '--since', m, '--force', '--json'])
  assert.is(forced.status, 0, forced.stderr)
  const r = JSON.parse(forced.stdout) as CopyResult
  assert.equal([r.incremental?.writeAll, r.incremental?.writtenBytes], [true, SIZE])
  assert.ok(cmpFiles(src, dst))
})

test('bad input: a missing manifest names how to make one; --force alone; --chunk against the manifest\'s', () => {
  const missing = cli(['copy', src, dst, '--since', m])
  assert.is(missing.status, 2)
  assert.match(missing.stderr, /NOT_FOUND_VOLUME: --since: .*dst\.bcm does not exist; make it from the destination with blockcopy hash DST -o/)
  const force = cli(['copy', src, dst, '--force'])
  assert.is(force.status, 2)
  assert.match(force.stderr, /--force: only applies with --since/)
  seed()
  const chunk = cli(['copy', src, dst, '--since', m, '--chunk', '4MiB'])
  assert.is(chunk.status, 2)
  assert.match(chunk.stderr, /--chunk: 4194304 differs from the manifest's chunk size, 1048576/)
})

test.run()
