import { execFileSync } from 'node:child_process'
import { existsSync, linkSync, lstatSync, readFileSync, readdirSync, statSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { readManifest } from '../src/index.js'
import { runCli } from './helpers/cli.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('hash -o never writes the FILE it hashes, by any name')
const MiB = 1024 * 1024
let dir: string
let file: string
let bytes: Buffer

test.before.each(() => {
  dir = makeTempDir('cli-hash-aliases')
  file = join(dir, 'disk.img')
  writeRandomFile(file, 3 * MiB + 5, 61)
  bytes = readFileSync(file)
})
test.after.each(() => {
  removeTempDir(dir)
})

const hash = (args: string[]) => runCli(['hash', ...args, '--progress', 'none'])

/** The run was refused (exit 2) naming -o, FILE 1 and how they are one file; FILE kept every byte; no manifest or temporary file appeared. */
function refused(run: ReturnType<typeof hash>, how: RegExp, entries: string[]): void {
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /^blockcopy: INVALID_ARGUMENT: -o: .* is FILE 1 /)
  assert.match(run.stderr, how)
  assert.match(run.stderr, /a command never writes a file it reads, so nothing was written/)
  assert.ok(readFileSync(file).equals(bytes), 'FILE is byte for byte as it was')
  assert.equal(readdirSync(dir).sort(), entries.sort(), 'nothing created beside it')
}

test('-o the same path as FILE: refused, FILE untouched', () => {
  refused(hash([file, '-o', file]), /\(the same path\)/, ['disk.img'])
})

test('-o a symlink to FILE: refused, FILE untouched, the link still a link', () => {
  const link = join(dir, 'disk.bcm')
  symlinkSync('disk.img', link)
  refused(hash([file, '-o', link]), /disk\.bcm is FILE 1 .*disk\.img \(the same file, one name through a symlink\)/, ['disk.img', 'disk.bcm'])
  assert.ok(lstatSync(link).isSymbolicLink())
})

test('-o a hard link of FILE: refused, FILE untouched, both names still one file', () => {
  const hard = join(dir, 'disk.bcm')
  linkSync(file, hard)
  refused(hash([file, '-o', hard]), /\(hard links of the same file\)/, ['disk.img', 'disk.bcm'])
  assert.is(statSync(hard).ino, statSync(file).ino)
})

test('FILE a symlink, -o its target: refused the other way round too', () => {
  const link = join(dir, 'via.img')
  symlinkSync(file, link)
  refused(hash([link, '-o', file]), /disk\.img is FILE 1 .*via\.img \(the same file, one name through a symlink\)/, ['disk.img', 'via.img'])
})

test('-o another node of the block device being hashed: refused, the device and its node untouched', async () => {
  const why = skipUnlessRoot('attaches a loop device and makes a device node')
  if (why) return logSkip(why)
  const dev = await attachLoop(file, { readOnly: true })
  try {
    const rdev = statSync(dev).rdev
    // A second node of the device, in the test's own directory: a regression replaces this one, not /dev's.
    const node = join(dir, 'node')
    execFileSync('mknod', [node, 'b', String(Math.floor(rdev / 256) & 0xfff), String((rdev & 0xff) | ((rdev >> 12) & ~0xff))])
    const run = hash([dev, '-o', node])
    refused(run, /node is FILE 1 \/dev\/loop\d+ \(two names of the same block device\)/, ['disk.img', 'node'])
    assert.ok(statSync(node).isBlockDevice(), 'the node is still the device')
    // The device is the backing file's whole 512-byte sectors.
    assert.ok(readRange(dev, 0, 3 * MiB).equals(bytes.subarray(0, 3 * MiB)), 'the device reads as before')
  } finally {
    await detachLoop(dev)
  }
})

test('-o FILE through a bind mount of its directory: refused as the same file through another mount, not as a hard link', async () => {
  const why = skipUnlessRoot('bind-mounts a directory')
  if (why) return logSkip(why)
  const sub = join(dir, 'data')
  const bind = join(dir, 'bindm')
  execFileSync('mkdir', [sub, bind])
  execFileSync('mv', [file, sub])
  execFileSync('mount', ['--bind', sub, bind])
  try {
    const run = hash([join(sub, 'disk.img'), '-o', join(bind, 'disk.img')])
    assert.is(run.status, 2, run.stderr)
    assert.match(run.stderr, /-o: .*bindm\/disk\.img is FILE 1 .*data\/disk\.img \(the same file through another mount or path\); a command never writes a file it reads/)
    assert.ok(readFileSync(join(sub, 'disk.img')).equals(bytes), 'FILE is byte for byte as it was')
    assert.equal(readdirSync(sub), ['disk.img'], 'nothing created beside it')
  } finally {
    await unmount(bind)
  }
})

test('-o a device node or FIFO that is not FILE: refused, since the manifest would be renamed over it', () => {
  const fifo = join(dir, 'pipe')
  execFileSync('mkfifo', [fifo])
  const run = hash([file, '-o', fifo])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /INVALID_ARGUMENT: -o: .*pipe is not a regular file but a FIFO; it is saved by writing a new file beside it and renaming that over .*pipe, which would replace it/)
  assert.ok(lstatSync(fifo).isFIFO())
  const why = skipUnlessRoot('makes a character device node')
  if (why) return logSkip(why)
  const nullNode = join(dir, 'null')
  execFileSync('mknod', [nullNode, 'c', '1', '3'])
  const dev = hash([file, '-o', nullNode])
  assert.is(dev.status, 2, dev.stderr)
  assert.match(dev.stderr, /-o: .*null is not a regular file but a character device/)
  assert.ok(lstatSync(nullNode).isCharacterDevice(), 'the node is still a device node')
  assert.equal(readdirSync(dir).sort(), ['disk.img', 'null', 'pipe'])
})

test('-o a dangling symlink: not FILE, so the manifest is written where it points and the link stays', async () => {
  const link = join(dir, 'disk.bcm')
  symlinkSync('manifests-disk.bcm', link)
  const run = hash([file, '-o', link])
  assert.is(run.status, 0, run.stderr)
  assert.ok(lstatSync(link).isSymbolicLink())
  const m = await readManifest(join(dir, 'manifests-disk.bcm'))
  assert.is(m.sizeBytes, 3 * MiB + 5)
  assert.ok(readFileSync(file).equals(bytes))
  assert.not.ok(existsSync(join(dir, `manifests-disk.bcm.tmp-${String(run.pid)}`)))
})

test.run()
