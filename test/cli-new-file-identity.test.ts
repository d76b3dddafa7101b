import { execFileSync } from 'node:child_process'
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('a file still to be created is known by the directory the kernel creates it in, not by its path text')
const KiB = 1024
const MiB = 1024 * KiB
let dir: string
let src: string
let x: string

// dir/x/y is a directory and dir/sub a symlink to it, so dir/sub/.. is dir/x, not dir.
test.before.each(() => {
  dir = makeTempDir('cli-new-file-identity')
  x = join(dir, 'x')
  mkdirSync(join(x, 'y'), { recursive: true })
  symlinkSync('x/y', join(dir, 'sub'))
  src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 121)
})
test.after.each(() => {
  removeTempDir(dir)
})

/** dir/sub/../NAME as typed: join() would fold the `..` the way the kernel does not. */
const viaSub = (name: string) => `${dir}/sub/../${name}`
const cli = (args: string[]) => runCli([...args, '--progress', 'none'])

test('copy SRC sub/../new --map x/new: one file still to be created, so refused and nothing created', () => {
  const run = cli(['copy', src, viaSub('newD'), '--map', join(x, 'newD')])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /INVALID_ARGUMENT: --map: .*x\/newD is DST .*sub\/\.\.\/newD \(the same file still to be created, one name through a symlink\); two files a command writes must be different files/)
  assert.equal(readdirSync(x), ['y'], 'no map, no destination')
  assert.not.ok(existsSync(join(dir, 'newD')))
})

test('copy SRC sub/../n2 x/n2 at overlapping offsets: one new file, so the overlap is refused and nothing created', () => {
  const run = cli(['copy', src, viaSub('n2'), join(x, 'n2'), '--dst-offset', '0', '--dst-offset', '512KiB'])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /INVALID_ARGUMENT: DST 2: bytes 524288\.\.1572864 of .*x\/n2 overlap DST 1 bytes 0\.\.1048576; destinations may not overlap each other/)
  assert.equal(readdirSync(x), ['y'])
})

test('copy SRC sub/../only/f, x/only a directory and dir/only none: created in x/only, byte-exact', () => {
  mkdirSync(join(x, 'only'))
  const run = cli(['copy', src, viaSub('only/f')])
  assert.is(run.status, 0, run.stderr)
  assert.ok(cmpFiles(src, join(x, 'only', 'f')))
  assert.not.ok(existsSync(join(dir, 'only')))
})

test('copy SRC sub/../none/f, dir/none a directory and x/none none: refused as a missing directory, nothing created', () => {
  mkdirSync(join(dir, 'none'))
  const run = cli(['copy', src, viaSub('none/f')])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /NOT_FOUND_VOLUME: DST: directory .*sub\/\.\.\/none does not exist, so .*sub\/\.\.\/none\/f cannot be created/)
  assert.equal(readdirSync(join(dir, 'none')), [])
})

test('a destination created through sub/.. and removed when a later one cannot be opened: the one created goes, never dir/ of its name', async () => {
  const why = skipUnlessRoot('attaches a loop device and holds it exclusively')
  if (why) return logSkip(why)
  // A file of the new file's name beside sub: what its path text names.
  const precious = join(dir, 'newD')
  writeFileSync(precious, 'not blockcopy\'s to remove')
  const backing = join(dir, 'busy.img')
  writeRandomFile(backing, MiB, 122)
  const dev = await attachLoop(backing)
  // Held exclusively here (O_EXCL on a block device claims it): the copy's own exclusive open of DST 2 fails with EBUSY.
  const held = openSync(dev, constants.O_RDONLY | constants.O_EXCL)
  try {
    const run = cli(['copy', src, viaSub('newD'), dev])
    assert.is.not(run.status, 0, run.stderr)
    assert.match(run.stderr, /EBUSY/)
  } finally {
    closeSync(held)
    await detachLoop(dev)
  }
  assert.is(readFileSync(precious, 'utf8'), 'not blockcopy\'s to remove', 'the file beside sub is untouched')
  assert.equal(readdirSync(x), ['y'], 'the destination it created is gone')
})

test('two paths of one new file through a bind mount are one file: overlapping offsets and a map among them are refused', async () => {
  const why = skipUnlessRoot('bind-mounts a directory')
  if (why) return logSkip(why)
  const bind = join(dir, 'bindm')
  mkdirSync(bind)
  execFileSync('mount', ['--bind', x, bind])
  try {
    const overlap = cli(['copy', src, join(x, 'nb'), join(bind, 'nb'), '--dst-offset', '0', '--dst-offset', '512KiB'])
    assert.is(overlap.status, 2, overlap.stderr)
    assert.match(overlap.stderr, /DST 2: bytes 524288\.\.1572864 of .*bindm\/nb overlap DST 1 bytes 0\.\.1048576/)
    const map = cli(['copy', src, join(x, 'nm'), '--map', join(bind, 'nm')])
    assert.is(map.status, 2, map.stderr)
    assert.match(map.stderr, /--map: .*bindm\/nm is DST .*x\/nm \(the same file still to be created, through another mount or path\)/)
    assert.equal(readdirSync(x), ['y'], 'nothing created')
  } finally {
    await unmount(bind)
  }
})

test.run()
