// The read paths as a user other than root: nobody reads root's files
// (0644, in directories it can enter but not write) and writes only into
// its own. Every one must work, or fail with an error that names the path
// and the permission: never a stack trace, never WORKER_FAILED.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { readManifest } from '../src/index.js'
import { runCli } from './helpers/cli.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { crashed, nobodysDir, rootsDir, runAsNobody, skipUnlessNobody } from './helpers/nobody.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('read paths as a user other than root')
const MiB = 1024 * 1024
const SIZE = 5 * MiB + 4097
let dir: string
/** root's, 0644: nobody can read it and not write it. */
let src: string
/** nobody's own directory. */
let mine: string

test.before.each(() => {
  dir = rootsDir('nonroot-read')
  src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 61)
  mine = nobodysDir(dir, 'mine')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Runs the CLI as nobody and checks it neither crashed nor let a worker die. */
function nobody(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = runAsNobody([...args, ...(args[0] === 'caps' ? [] : ['--progress', 'none'])], env)
  assert.not.ok(crashed(run), `crashed:\n${run.stderr}`)
  return run
}

/** Overwrites a few bytes of a file (as root). */
function poke(path: string, at: number): void {
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from('changed'), 0, 7, at)
  closeSync(fd)
}

test('hash of a file nobody can read but not write: the cache probe cannot tell (cachestat EPERM), and the file is read', async () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  // In the page cache, so the probe is asked (and refused) for every chunk.
  readFileSync(src)
  const ours = runCli(['hash', src, '--json', '--progress', 'none'])
  assert.is(ours.status, 0, ours.stderr)
  const root = (JSON.parse(ours.stdout) as { files: Array<{ root: string }> }).files[0]?.root
  const run = nobody(['hash', src, '--json'])
  assert.is(run.status, 0, run.stderr)
  assert.is((JSON.parse(run.stdout) as { files: Array<{ root: string }> }).files[0]?.root, root)

  const m = join(mine, 'src.bcm')
  const saved = nobody(['hash', src, '-o', m])
  assert.is(saved.status, 0, saved.stderr)
  assert.is((await readManifest(m)).root, root)
  const xxh = nobody(['hash', '--xxhsum', src])
  assert.is(xxh.status, 0, xxh.stderr)
  assert.is(xxh.stdout, runCli(['hash', '--xxhsum', src]).stdout)
})

test('verify SRC REPLICA and verify --manifest of files nobody can only read', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const replica = join(dir, 'replica.img')
  writeRandomFile(replica, SIZE, 61)
  const m = join(mine, 'src.bcm')
  assert.is(nobody(['hash', src, '-o', m]).status, 0)
  const same = nobody(['verify', src, replica])
  assert.is(same.status, 0, same.stderr)
  assert.match(same.stdout, /identical/)
  assert.is(nobody(['verify', '--manifest', m, replica]).status, 0)
  poke(replica, 3 * MiB + 5)
  const differs = nobody(['verify', src, replica])
  assert.is(differs.status, 1, differs.stderr)
  assert.match(differs.stdout, /DIFFERS/)
  assert.is(nobody(['verify', '--manifest', m, replica]).status, 1)
})

test('copy from a file nobody can only read into its own directory: read back, and with a resume map', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const dst = join(mine, 'dst.img')
  const run = nobody(['copy', src, dst, '--verify', 'readback'])
  assert.is(run.status, 0, run.stderr)
  assert.ok(cmpFiles(src, dst))
  const mapped = join(mine, 'mapped.img')
  const map = nobody(['copy', src, mapped, '--map', join(mine, 'copy.map')])
  assert.is(map.status, 0, map.stderr)
  assert.ok(cmpFiles(src, mapped))
})

test('copy --since (and --check-dest) from a file nobody can only read, to its own destination and manifest', async () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const dst = join(mine, 'dst.img')
  const m = join(mine, 'dst.bcm')
  assert.is(nobody(['copy', src, dst]).status, 0)
  assert.is(nobody(['hash', dst, '-o', m]).status, 0)
  poke(src, 2 * MiB + 100)
  const run = nobody(['copy', src, dst, '--since', m, '--json'])
  assert.is(run.status, 0, run.stderr)
  assert.is((JSON.parse(run.stdout) as { incremental: { writtenBytes: number } }).incremental.writtenBytes, MiB)
  assert.ok(cmpFiles(src, dst))
  // The manifest nobody's run wrote is the destination's state now.
  const again = nobody(['hash', dst, '--json'])
  assert.is((JSON.parse(again.stdout) as { files: Array<{ root: string }> }).files[0]?.root, (await readManifest(m)).root)
  poke(src, 4 * MiB + 1)
  const checked = nobody(['copy', src, dst, '--since', m, '--check-dest'])
  assert.is(checked.status, 0, checked.stderr)
  assert.match(checked.stdout, /every chunk of DST read and hashed \(--check-dest\)/)
  assert.ok(cmpFiles(src, dst))
})

test('replicate --type copy from a file nobody can only read, and zero of its own file', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const dst = join(mine, 'ranges.img')
  const run = nobody(['replicate', src, dst, '--range', '0:1MiB:1MiB', '--range', '3MiB:0:4097', '--type', 'copy'])
  assert.is(run.status, 0, run.stderr)
  assert.ok(readRange(dst, MiB, MiB).equals(readRange(src, 0, MiB)))
  assert.ok(readRange(dst, 0, 4097).equals(readRange(src, 3 * MiB, 4097)))
  const zero = nobody(['zero', dst, '--dst-offset', '4096', '--length', '1MiB', '--verify', 'readback'])
  assert.is(zero.status, 0, zero.stderr)
  assert.ok(readRange(dst, 4096, MiB).equals(Buffer.alloc(MiB)))
})

test('caps of a file nobody can only read says what it could not probe, and a device it cannot open is named', async () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const file = nobody(['caps', src])
  assert.is(file.status, 0, file.stderr)
  assert.match(file.stdout, /direct I\/O\s+yes/)
  assert.match(file.stdout, /not probed: cannot make a scratch file in .* \(EACCES/)
  const device = await attachLoop(src)
  try {
    const run = nobody(['caps', device])
    assert.is(run.status, 2, run.stdout)
    assert.match(run.stderr, new RegExp(`EACCES: permission denied, open '${device}'`))
    const hash = nobody(['hash', device])
    assert.is(hash.status, 2)
    assert.match(hash.stderr, new RegExp(`EACCES: permission denied, open '${device}'`))
  } finally {
    await detachLoop(device)
  }
})

test.run()
