import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { wholeFileDigest, xxhsumLine } from '../src/index.js'
import { cliArgs, ROOT } from './helpers/cli.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('hash --xxhsum - refuses a standard input it cannot read, and reads every one it can')
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-hash-stdin-unreadable-')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Runs `blockcopy ARGS` with `path` opened read-only as its standard input. */
function cliFrom(path: string, args: string[]): SpawnSyncReturns<string> {
  const fd = openSync(path, 'r')
  try {
    return spawnSync(process.execPath, cliArgs(args), { cwd: ROOT, stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', timeout: 60_000 })
  } finally {
    closeSync(fd)
  }
}

/** Runs `blockcopy ARGS` with its standard input closed, as a shell's `<&-` does. */
function cliClosed(args: string[]): SpawnSyncReturns<string> {
  return spawnSync('sh', ['-c', 'exec "$@" <&-', 'sh', process.execPath, ...cliArgs(args)], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
}

/** xxhsum's exit status for `xxhsum -H3 -` with standard input as `shell` redirects it; null when xxhsum is not installed. */
function xxhsumStatus(redirect: string): number | null {
  if (spawnSync('xxhsum', ['--version']).error) return null
  return spawnSync('sh', ['-c', `exec xxhsum -H3 - ${redirect}`], { encoding: 'utf8' }).status
}

test('a directory as standard input is EISDIR naming it, exit 2, no digest; the files around it are still hashed', async () => {
  const sub = join(dir, 'sub')
  mkdirSync(sub)
  const file = join(dir, 'f.bin')
  writeRandomFile(file, 4096 + 3, 1)
  const alone = cliFrom(sub, ['hash', '--xxhsum', '-'])
  assert.is(alone.status, 2, alone.stderr)
  assert.is(alone.stdout, '')
  assert.is(alone.stderr, 'blockcopy: EISDIR: FILE 1: - (standard input) is a directory, which has no bytes to hash\n')

  const among = cliFrom(sub, ['hash', '--xxhsum', file, '-', file, '--json'])
  assert.is(among.status, 2, among.stderr)
  const out = JSON.parse(among.stdout) as { ok: boolean; files: Array<{ path: string; ok: boolean; digest?: string; sizeBytes?: number; error?: { code: string; message: string } }> }
  assert.is(out.ok, false)
  const digest = (await wholeFileDigest(file)).digest
  assert.equal(out.files.map((e) => [e.path, e.ok, e.digest ?? null]), [[file, true, digest], ['-', false, null], [file, true, digest]])
  assert.equal(out.files[1]?.error, { code: 'EISDIR', message: 'EISDIR: FILE 2: - (standard input) is a directory, which has no bytes to hash' })
  assert.is(out.files[1]?.sizeBytes, undefined)

  // xxhsum fails on it too.
  const theirs = xxhsumStatus(`< '${sub}'`)
  if (theirs === null) logSkip('xxhsum is not installed (apt-get install xxhash): not compared with it')
  else assert.is.not(theirs, 0)
})

test('a closed standard input is EBADF naming it, exit 2, no digest, in text and --json', () => {
  const run = cliClosed(['hash', '--xxhsum', '-'])
  assert.is(run.status, 2, run.stderr)
  assert.is(run.stdout, '')
  assert.match(run.stderr, /^blockcopy: EBADF: FILE 1: - \(standard input\) is closed .*give < \/dev\/null for the digest of no bytes\n$/)
  const json = cliClosed(['hash', '--xxhsum', '--algo', 'xxh128', '-', '--json'])
  assert.is(json.status, 2, json.stderr)
  const out = JSON.parse(json.stdout) as { ok: boolean; files: Array<{ path: string; ok: boolean; error?: { code: string } }> }
  assert.is(out.ok, false)
  assert.equal(out.files.map((e) => [e.path, e.ok, e.error?.code]), [['-', false, 'EBADF']])
  const theirs = xxhsumStatus('<&-')
  if (theirs === null) logSkip('xxhsum is not installed (apt-get install xxhash): not compared with it')
  else assert.is.not(theirs, 0)
})

test('/dev/null and a regular file as standard input are read: the digest of no bytes, and of the file', async () => {
  const empty = cliFrom('/dev/null', ['hash', '--xxhsum', '-'])
  assert.is(empty.status, 0, empty.stderr)
  assert.is(empty.stdout, 'XXH3 (stdin) = 2d06800538d394c2\n')
  const file = join(dir, 'f.bin')
  writeRandomFile(file, 3 * MiB + 1, 2)
  const run = cliFrom(file, ['hash', '--xxhsum', '--algo', 'xxh128', '-'])
  assert.is(run.status, 0, run.stderr)
  assert.is(run.stdout, `${xxhsumLine({ ...(await wholeFileDigest(file, { algo: 'xxh128' })), path: 'stdin' })}\n`)
})

test('a block device as standard input is read whole, as the device itself is', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  const image = join(dir, 'disk.img')
  writeRandomFile(image, 2 * MiB, 3)
  const loop = await attachLoop(image)
  try {
    const run = cliFrom(loop, ['hash', '--xxhsum', '-'])
    assert.is(run.status, 0, run.stderr)
    const d = await wholeFileDigest(loop)
    assert.is(d.sizeBytes, 2 * MiB)
    assert.is(run.stdout, `XXH3 (stdin) = ${d.digest}\n`)
    assert.is.not(d.digest, '2d06800538d394c2', 'not the digest of no bytes')
  } finally {
    await detachLoop(loop)
  }
})

test.run()
