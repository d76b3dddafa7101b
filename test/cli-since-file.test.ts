import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { readManifest, type CopyResult } from '../src/index.js'
import { runCli, spawnCli } from './helpers/cli.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy copy --since: the manifest file is locked, resolved, checked, and a failed write of it is said')
const MiB = 1024 * 1024
const SIZE = 6 * MiB + 17
let dir: string
let src: string
let dst: string
let m: string

test.before.each(() => {
  dir = makeTempDir('cli-since-file')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
  m = join(dir, 'dst.bcm')
  writeRandomFile(src, SIZE, 51)
})
test.after.each(() => {
  spawnSync('chattr', ['-R', '-i', dir])
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(args)

function seed(manifest = m): void {
  assert.is(cli(['copy', src, dst]).status, 0)
  assert.is(cli(['hash', dst, '-o', manifest]).status, 0)
  writeRandomFile(src, SIZE, 52)
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(20)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
  }
}

/** Starts a slow incremental copy (--rate) and waits until it has written its first chunk. */
async function slowCopy(extra: string[] = []): Promise<{ done: Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>; child: ReturnType<typeof spawnCli> }> {
  const child = spawnCli(['copy', src, dst, '--since', m, '--rate', '512KiB', '--progress', 'ndjson', ...extra])
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
  const done = new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })))
  // A progress line with bytes done: the manifest on disk already marks every chunk unknown.
  await until('the first chunk', () => /"doneBytes":[1-9]/.test(stderr))
  return { done, child }
}

test('two runs on one manifest at once: the second is refused while the first holds M.lock, which is gone after', async () => {
  seed()
  const first = await slowCopy()
  // Held still while the second runs, however slowly this machine starts it: a stopped process keeps its flock.
  first.child.kill('SIGSTOP')
  assert.ok(existsSync(`${m}.lock`), 'the running copy holds the lock file')
  const second = cli(['copy', src, dst, '--since', m])
  first.child.kill('SIGCONT')
  assert.is(second.status, 2, second.stderr)
  assert.match(second.stderr, /INVALID_ARGUMENT: --since: .*dst\.bcm is in use by another copy \(.*dst\.bcm\.lock is locked\): one incremental copy at a time per manifest/)
  const r = await first.done
  assert.is(r.status, 0, r.stderr)
  assert.not.ok(existsSync(`${m}.lock`), 'the lock file is removed as the lock is let go')
  assert.ok(cmpFiles(src, dst))
  // The next run finds the manifest true to the destination.
  const again = cli(['copy', src, dst, '--since', m, '--json'])
  assert.is(again.status, 0, again.stderr)
  assert.equal((JSON.parse(again.stdout) as CopyResult).incremental?.writtenBytes, 0)
})

test('a second Ctrl-C exits at once, and takes the lock file with it', async () => {
  seed()
  const run = await slowCopy()
  // The second while the first is still finishing the running chunks (both at once would be one signal).
  run.child.kill('SIGINT')
  await new Promise((r) => setTimeout(r, 10))
  run.child.kill('SIGINT')
  const r = await run.done
  // 130 from the second signal's exit; or, had the run already let go of its signals, the signal itself.
  assert.ok(r.status === 130 || r.signal === 'SIGINT', `exit ${String(r.status)} ${String(r.signal)}: ${r.stderr}`)
  assert.not.ok(existsSync(`${m}.lock`), 'no lock file left behind')
})

test('a manifest that is SRC or DST (by any name), or a directory, is refused before anything is written', () => {
  seed()
  const before = readFileSync(dst)
  const srcBefore = readFileSync(src)
  const alias = join(dir, 'dst-alias.img')
  linkSync(dst, alias)
  const asDst = cli(['copy', src, dst, '--since', alias, '--force'])
  assert.is(asDst.status, 2, asDst.stderr)
  assert.match(asDst.stderr, /INVALID_ARGUMENT: --since: .*dst-alias\.img is DST .*dst\.img \(hard links of the same file\); two files a command writes must be different files/)
  const asSrc = cli(['copy', src, dst, '--since', src, '--force'])
  assert.is(asSrc.status, 2)
  assert.match(asSrc.stderr, /--since: .*src\.img is SRC .*src\.img \(the same path\)/)
  const folder = join(dir, 'folder')
  mkdirSync(folder)
  const isDir = cli(['copy', src, dst, '--since', folder])
  assert.is(isDir.status, 2)
  assert.match(isDir.stderr, /INVALID_ARGUMENT: --since: .*folder is not a regular file/)
  assert.ok(readFileSync(dst).equals(before), 'DST untouched')
  assert.ok(readFileSync(src).equals(srcBefore), 'SRC untouched')
  // A DST named like the lock file beside the manifest: the run would take it, and remove it after.
  const lockNamed = `${m}.lock`
  copyFileSync(dst, lockNamed)
  const asLock = cli(['copy', src, lockNamed, '--since', m, '--force'])
  assert.is(asLock.status, 2, asLock.stderr)
  assert.match(asLock.stderr, /INVALID_ARGUMENT: --since: its lock file .*dst\.bcm\.lock is DST .*dst\.bcm\.lock \(the same path\); two files a command writes must be different files/)
  assert.ok(readFileSync(lockNamed).equals(before), 'that DST is still there, untouched')
  rmSync(lockNamed)
  // A lock file that cannot be one: named, not a stack trace.
  mkdirSync(lockNamed)
  const lockDir = cli(['copy', src, dst, '--since', m])
  assert.is(lockDir.status, 2, lockDir.stderr)
  assert.match(lockDir.stderr, /INVALID_ARGUMENT: --since: the lock file .*dst\.bcm\.lock cannot be used \(EISDIR\)/)
})

test('a manifest reached through a symlink is updated where the link points; the link stays a link', async () => {
  const real = join(dir, 'real.bcm')
  seed(real)
  symlinkSync(real, m)
  const run = cli(['copy', src, dst, '--since', m])
  assert.is(run.status, 0, run.stderr)
  assert.ok(lstatSync(m).isSymbolicLink(), 'the link was not replaced by a file')
  assert.ok(cmpFiles(src, dst))
  const hashed = JSON.parse(cli(['hash', dst, '--json']).stdout) as { files: Array<{ root: string }> }
  assert.is((await readManifest(real)).root, hashed.files[0]?.root, 'the file the link names describes the destination now')
})

test('a manifest whose directory cannot be written is refused before the destination is created', () => {
  const why = skipUnlessRoot('sets the immutable attribute')
  if (why) return logSkip(why)
  const mdir = join(dir, 'manifests')
  mkdirSync(mdir)
  const manifest = join(mdir, 'dst.bcm')
  seed(manifest)
  if (spawnSync('chattr', ['+i', mdir]).status !== 0) return logSkip('this file system has no immutable attribute')
  const fresh = join(dir, 'fresh.img')
  const run = cli(['copy', src, fresh, '--since', manifest, '--force'])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /INVALID_ARGUMENT: --since: the next manifest is written in .*manifests and renamed over .*dst\.bcm, but that directory cannot be written \(E(PERM|ACCES)\)/)
  assert.not.ok(existsSync(fresh), 'the destination was not created')
})

test('a manifest that cannot be written once the copy is done: exit 3, said, and the one on disk marks every chunk unknown', async () => {
  const why = skipUnlessRoot('sets the immutable attribute')
  if (why) return logSkip(why)
  seed()
  const first = await slowCopy(['--json'])
  if (spawnSync('chattr', ['+i', dir]).status !== 0) {
    await first.done
    return logSkip('this file system has no immutable attribute')
  }
  const r = await first.done
  spawnSync('chattr', ['-i', dir])
  assert.is(r.status, 3, r.stderr)
  assert.match(r.stderr, /blockcopy: E(PERM|ACCES): --since: cannot write the manifest .*dst\.bcm: .*; it still marks every chunk unknown, so the next run writes every chunk/)
  const result = JSON.parse(r.stdout) as CopyResult & { manifest?: string; manifestError?: { code: string } }
  assert.is(result.ok, false, 'not ok: the manifest is behind')
  assert.match(result.manifestError?.code ?? '', /^E(PERM|ACCES)$/)
  assert.is(result.completedBytes, SIZE, 'though every byte was copied')
  assert.is(result.manifest, undefined, 'no manifest is named as updated')
  assert.ok(cmpFiles(src, dst))
  const onDisk = await readManifest(m)
  const unknown = (i: number) => (((onDisk.unknown?.[i >> 3] ?? 0) >> (i & 7)) & 1) === 1
  assert.ok(Array.from({ length: onDisk.chunkCount }, (_, i) => i).every(unknown), 'every chunk unknown')
  // And the next run writes them all.
  const next = cli(['copy', src, dst, '--since', m, '--json'])
  assert.is(next.status, 0, next.stderr)
  assert.is((JSON.parse(next.stdout) as CopyResult).incremental?.writtenBytes, SIZE)
})

test.run()
