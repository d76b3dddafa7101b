// copy --since says what it verified (the chunks it wrote, and how), what it
// checked of DST before, and what it trusted to the manifest without reading
// DST; --check-dest hashes all of DST against the manifest first.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CopyResult } from '../src/index.js'
import { runCli } from './helpers/cli.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy copy --since: what it verified and trusted, and --check-dest')
const KiB = 1024
const CHUNK = 64 * KiB
/** 256 chunks: a sample of 16 misses a given middle chunk 15 times in 16. */
const COUNT = 256
const SIZE = COUNT * CHUNK
const BEHIND = 200
let dir: string
let src: string
let dst: string
let m: string

test.before.each(() => {
  dir = makeTempDir('cli-since-check-dest')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
  m = join(dir, 'dst.bcm')
  writeRandomFile(src, SIZE, 97)
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli([...args, '--progress', 'none'])

function poke(path: string, at: number): void {
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from('changed'), 0, 7, at)
  closeSync(fd)
}

/** A full copy and its manifest; then chunk 0 changes in SRC and chunk BEHIND in DST, behind the manifest's back. */
function seed(): void {
  assert.is(cli(['copy', src, dst]).status, 0)
  assert.is(cli(['hash', dst, '--chunk', '64KiB', '-o', m]).status, 0)
  poke(src, 100)
  poke(dst, BEHIND * CHUNK + 9)
}

test('a change in DST outside the sample is skipped, and the summary says it was trusted, not verified; verify then says DIFFERS', () => {
  seed()
  // The sample is random: should it catch the change (1 run in 16), the run is refused and nothing written; run again.
  let run = cli(['copy', src, dst, '--since', m])
  for (let attempt = 0; attempt < 12 && run.status === 2; attempt++) {
    assert.match(run.stderr, `MANIFEST_MISMATCH: --since: chunk ${BEHIND} of`)
    run = cli(['copy', src, dst, '--since', m])
  }
  assert.is(run.status, 0, run.stderr)
  assert.match(run.stdout, /^incremental: wrote 1 chunk \(64\.00 KiB\) that changed, skipped 255 \(15\.94 MiB\) unchanged$/m)
  assert.match(run.stdout, /^checked before the copy: a sample of 16 chunks \(1\.00 MiB\) of DST read, none changed behind the manifest$/m)
  assert.match(run.stdout, /^trusted, not read: 240 chunks \(15\.00 MiB\) skipped on the manifest's word, DST not read there \(--check-dest reads every chunk\)$/m)
  assert.match(run.stdout, /^verify: hash: the 1 chunk written \(64\.00 KiB\) hashed as read from SRC; DST not read back \(--verify readback does\)$/m)
  assert.not.match(run.stdout, /no differences/)
  const verify = cli(['verify', src, dst])
  assert.is(verify.status, 1, verify.stderr)
  assert.match(verify.stdout, /DIFFERS/)
})

test('--check-dest finds it: refused (exit 2) naming the range, nothing written; with --force it is written, and verify says identical', () => {
  seed()
  const before = readFileSync(dst)
  const manifestBefore = readFileSync(m)
  const refused = cli(['copy', src, dst, '--since', m, '--check-dest'])
  assert.is(refused.status, 2, refused.stdout)
  assert.match(refused.stderr, new RegExp(`MANIFEST_MISMATCH: --since: every chunk of .*dst\\.img was hashed, and 1 of ${COUNT} chunks is not as the manifest records: bytes ${BEHIND * CHUNK}\\.\\.${(BEHIND + 1) * CHUNK}: .*nothing was written \\(--force writes the chunks where the source differs from what the destination holds\\)`))
  assert.ok(readFileSync(dst).equals(before), 'DST untouched')
  assert.ok(readFileSync(m).equals(manifestBefore), 'manifest untouched')

  const forced = cli(['copy', src, dst, '--since', m, '--check-dest', '--force'])
  assert.is(forced.status, 0, forced.stderr)
  assert.match(forced.stdout, /^incremental: wrote 2 chunks \(128\.00 KiB\) that changed, skipped 254 \(15\.88 MiB\) unchanged$/m)
  assert.match(forced.stdout, new RegExp(`^checked before the copy: every chunk of DST read and hashed \\(--check-dest\\), 256 chunks \\(16\\.00 MiB\\): 64\\.00 KiB not as the manifest records \\(bytes ${BEHIND * CHUNK}\\.\\.${(BEHIND + 1) * CHUNK}\\), compared with SRC by what DST holds$`, 'm'))
  assert.match(forced.stdout, /^trusted, not read: nothing \(every chunk skipped was read on DST\)$/m)
  const verify = cli(['verify', src, dst])
  assert.is(verify.status, 0, verify.stdout)
  assert.match(verify.stdout, /identical/)

  // The next run with --check-dest finds DST as the manifest now records, in --json too.
  const again = cli(['copy', src, dst, '--since', m, '--check-dest', '--verify', 'readback', '--json'])
  assert.is(again.status, 0, again.stderr)
  const i = (JSON.parse(again.stdout) as CopyResult).incremental
  assert.equal(i, {
    writtenBytes: 0, skippedBytes: SIZE, writtenChunks: 0, skippedChunks: COUNT, writeAll: false, reason: null,
    check: { mode: 'whole', chunks: COUNT, bytes: SIZE, differing: [] }, trustedChunks: 0, trustedBytes: 0,
  })
})

test('--verify readback says the chunks written were read back; --check-dest without --since is refused', () => {
  seed()
  poke(dst, BEHIND * CHUNK + 9)
  const run = cli(['copy', src, dst, '--since', m, '--check-dest', '--force', '--verify', 'readback'])
  assert.is(run.status, 0, run.stderr)
  assert.match(run.stdout, /^verify: readback of the 2 chunks written \(128\.00 KiB\): read back from DST and compared, no differences$/m)
  const alone = cli(['copy', src, dst, '--check-dest'])
  assert.is(alone.status, 2)
  assert.match(alone.stderr, /--check-dest: only applies with --since/)
})

test.run()
