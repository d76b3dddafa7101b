// The reflink baseline under its name, `baseline` (--baseline), and its old
// name `checkpoint` (--checkpoint), kept for one release with a deprecation
// line: both work alike, and giving both is refused before anything is written.
import { closeSync, existsSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type Manifest } from '../src/index.js'
import type { CopyResult } from '../src/job.js'
import { runCli } from './helpers/cli.js'
import { withImageFs, withTempDir } from './helpers/native.js'
import { refuses } from './helpers/refuses.js'
import { cmpFiles, writeRandomFile } from './helpers/tmp.js'

const test = suite('copy --since with a baseline, and --checkpoint its old name')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 256 * KiB
const SIZE = 8 * MiB + 4097
const DEPRECATION = 'blockcopy: --checkpoint is deprecated, use --baseline; it will go in the next release'
let client: CopyClient

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})

async function seed(dir: string): Promise<{ src: string; dst: string; base: string; m: Manifest }> {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, SIZE, 91)
  assert.is((await client.copy({ path: src }, [{ path: dst }]).result).ok, true)
  const m = await client.hash(dst, { chunkBytes: CHUNK }).manifest
  assert.ok(m)
  return { src, dst, base: join(dir, 'src.base'), m: m as Manifest }
}

/** Overwrites one byte of `path` in place (copy on write moves only its block). */
function scribble(path: string, offset: number): void {
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from([0x99]), 0, 1, offset)
  closeSync(fd)
}

test('the library: `baseline` spares reading what the last run\'s clone still shares, as `checkpoint` did', async () => {
  await withTempDir('baseline-lib', (tmp) => withImageFs(tmp, 'btrfs', async (mnt) => {
    const { src, dst, base, m } = await seed(mnt.dir)
    const first = client.copy({ path: src }, [{ path: dst }], { since: m, baseline: base })
    const r1 = await first.result
    assert.is(r1.ok, true)
    assert.equal(r1.incremental?.checkpoint, { path: base, used: false, reason: `no checkpoint at ${base} yet`, unreadBytes: 0 })
    scribble(src, CHUNK + 1)
    const r2 = await client.copy({ path: src }, [{ path: dst }], { since: (await first.manifest) as Manifest, baseline: base }).result
    assert.is(r2.ok, true)
    assert.equal(r2.incremental?.checkpoint, { path: base, used: true, reason: null, unreadBytes: SIZE - CHUNK })
    assert.ok(cmpFiles(src, dst))
  }))
})

test('the library: `baseline` and `checkpoint` together are INVALID_ARGUMENT naming `baseline`, nothing written', async () => {
  await withTempDir('baseline-both', async (dir) => {
    const src = join(dir, 'src.img')
    const dst = join(dir, 'dst.img')
    writeRandomFile(src, 1 * MiB, 5)
    const m = await client.hash(src, { chunkBytes: CHUNK }).manifest
    writeRandomFile(dst, 1 * MiB, 6)
    const before = readFileSync(dst)
    const names = readdirSync(dir).sort()
    refuses(() => client.copy({ path: src }, [{ path: dst }], { since: m as Manifest, baseline: join(dir, 'a'), checkpoint: join(dir, 'b') }),
      'INVALID_ARGUMENT', /^baseline: give `baseline` or `checkpoint` \(its old name\), not both/)
    refuses(() => client.copy({ path: src }, [{ path: dst }], { baseline: join(dir, 'a') }), 'INVALID_ARGUMENT', /^baseline: only applies with `since`/)
    assert.ok(readFileSync(dst).equals(before))
    assert.equal(readdirSync(dir).sort(), names)
  })
})

test('the library: `checkpoint` still works and warns once, as a DeprecationWarning with a code', async () => {
  const warnings: Error[] = []
  const listen = (w: Error) => { warnings.push(w) }
  process.on('warning', listen)
  try {
    for (let i = 0; i < 2; i++) {
      refuses(() => client.copy({ path: '/nonexistent-src' }, [{ path: '/nonexistent-dst' }], { checkpoint: '/x' }),
        'INVALID_ARGUMENT', /^checkpoint: only applies with `since`/)
    }
    // Warnings are delivered on the next tick; an immediate runs after it.
    await new Promise<void>((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', listen)
  }
  const ours = warnings.filter((w) => (w as Error & { code?: string }).code === 'BLOCKCOPY_DEP_CHECKPOINT')
  assert.is(ours.length, 1)
  assert.is(ours[0]?.name, 'DeprecationWarning')
  assert.match(ours[0]?.message ?? '', 'the `checkpoint` option is deprecated, use `baseline`')
})

test('the CLI: --baseline works as --checkpoint did; --checkpoint still works with one deprecation line; both refused (exit 2) before anything is written', async () => {
  await withTempDir('baseline-cli', (tmp) => withImageFs(tmp, 'btrfs', async (mnt) => {
    const { src, dst, base } = await seed(mnt.dir)
    const manifest = join(mnt.dir, 'dst.bcm')
    assert.is(runCli(['hash', dst, '--chunk', '256KiB', '-o', manifest, '--progress', 'none']).status, 0)

    const first = runCli(['copy', src, dst, '--since', manifest, '--baseline', base, '--progress', 'none'])
    assert.is(first.status, 0, first.stderr)
    assert.not.match(first.stderr, 'deprecated')
    assert.match(first.stdout, `checkpoint ${base} not used (no checkpoint at ${base} yet)`)
    scribble(src, CHUNK + 1)
    const second = runCli(['copy', src, dst, '--since', manifest, '--baseline', base, '--progress', 'none', '--json'])
    assert.is(second.status, 0, second.stderr)
    assert.equal((JSON.parse(second.stdout) as CopyResult).incremental?.checkpoint, { path: base, used: true, reason: null, unreadBytes: SIZE - CHUNK })
    assert.ok(cmpFiles(src, dst))

    // The old name: the same copy, one line on stderr saying so.
    scribble(src, 3 * CHUNK + 7)
    const old = runCli(['copy', src, dst, '--since', manifest, '--checkpoint', base, '--progress', 'none', '--json'])
    assert.is(old.status, 0, old.stderr)
    assert.is(old.stderr.split('\n').filter((l) => l === DEPRECATION).length, 1, old.stderr)
    assert.equal((JSON.parse(old.stdout) as CopyResult).incremental?.checkpoint, { path: base, used: true, reason: null, unreadBytes: SIZE - CHUNK })
    assert.ok(cmpFiles(src, dst))
    // Its refusals name the flag that was typed.
    const noSince = runCli(['copy', src, dst, '--checkpoint', base, '--progress', 'none'])
    assert.is(noSince.status, 2)
    assert.match(noSince.stderr, '--checkpoint: only applies with --since')
    const baseNoSince = runCli(['copy', src, dst, '--baseline', base, '--progress', 'none'])
    assert.is(baseNoSince.status, 2)
    assert.match(baseNoSince.stderr, '--baseline: only applies with --since')

    // Both: refused before the manifest, the destination or any baseline file is touched.
    const other = join(mnt.dir, 'other.base')
    scribble(src, 5 * CHUNK)
    const manifestBefore = readFileSync(manifest)
    const dstBefore = readFileSync(dst)
    const both = runCli(['copy', src, dst, '--since', manifest, '--baseline', other, '--checkpoint', base, '--progress', 'none'])
    assert.is(both.status, 2)
    assert.match(both.stderr, 'INVALID_ARGUMENT: --baseline: give --baseline or --checkpoint (its old name), not both')
    assert.ok(readFileSync(manifest).equals(manifestBefore), 'the manifest was written')
    assert.ok(readFileSync(dst).equals(dstBefore), 'the destination was written')
    assert.not.ok(existsSync(other) || existsSync(`${other}.next`) || existsSync(`${other}.lock`) || existsSync(`${base}.next`))
  }))
})

test.run()
