import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { withTempDir } from './helpers/native.js'
import { allocatedBytes, writeSparseFile } from './helpers/sparse.js'
import { cmpFiles } from './helpers/tmp.js'

const MiB = 1024 * 1024
const ROOT = fileURLToPath(new URL('..', import.meta.url))

function cli(args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

test('copy --sparse --json leaves the holes, reports holeBytes, and the copy is byte-exact at the same size', async () => {
  await withTempDir('cli-sparse', (dir) => {
    const [src, dst] = [join(dir, 'src.img'), join(dir, 'dst.img')]
    const size = 200 * MiB + 3
    const data = writeSparseFile(src, size, [{ offset: 5, length: MiB }, { offset: 150 * MiB - 1, length: 2 * MiB }])
    const run = cli(['copy', src, dst, '--sparse', '--json', '--verify', 'readback', '--threads', '2', '--progress', 'none'])
    assert.is(run.status, 0, run.stderr)
    const out = JSON.parse(run.stdout) as { ok: boolean; holeBytes: number; completedBytes: number }
    assert.is(out.ok, true)
    assert.is(out.completedBytes, size)
    assert.ok(out.holeBytes >= size - data - MiB && out.holeBytes <= size - data, `holeBytes ${out.holeBytes}`)
    assert.is(statSync(dst).size, size)
    assert.ok(cmpFiles(src, dst))
    assert.ok(allocatedBytes(dst) <= data + MiB / 2, `du of the destination: ${allocatedBytes(dst)}`)
  })
})

test('copy --sparse says in its summary how much was not written; with --no-sparse, nothing is', async () => {
  await withTempDir('cli-sparse', (dir) => {
    const src = join(dir, 'src.img')
    writeSparseFile(src, 16 * MiB, [{ offset: 4 * MiB, length: MiB }])
    const sparse = cli(['copy', src, join(dir, 'a.img'), '--sparse', '--threads', '2', '--progress', 'none'])
    assert.is(sparse.status, 0, sparse.stderr)
    assert.match(sparse.stdout, /^sparse: 15(\.0+)? MiB not written \(left as holes, punched or zeroed out\)$/m)
    const plain = cli(['copy', src, join(dir, 'b.img'), '--no-sparse', '--threads', '2', '--progress', 'none'])
    assert.is(plain.status, 0, plain.stderr)
    assert.not.match(plain.stdout, /^sparse:/m)
    assert.ok(allocatedBytes(join(dir, 'b.img')) >= 16 * MiB)
  })
})

test('by default a 1 GiB file with 4 KiB of data copies to what cp --sparse=auto allocates; --no-sparse allocates it all', async () => {
  await withTempDir('cli-sparse', (dir) => {
    const src = join(dir, 'src.img')
    const size = 1024 * MiB
    writeSparseFile(src, size, [{ offset: 700 * MiB + 12345, length: 4096 }])
    const cp = join(dir, 'cp.img')
    const made = spawnSync('cp', ['--sparse=auto', src, cp], { encoding: 'utf8' })
    assert.is(made.status, 0, made.stderr)
    const auto = join(dir, 'auto.img')
    const run = cli(['copy', src, auto, '--verify', 'hash', '--progress', 'none'])
    assert.is(run.status, 0, run.stderr)
    assert.match(run.stdout, /^sparse: 102\d\.\d\d MiB not written/m)
    assert.is(statSync(auto).size, size)
    assert.ok(cmpFiles(src, auto))
    // cp writes the one block the data spans (8 KiB: it straddles two); blockcopy as much, give or take a block.
    assert.ok(allocatedBytes(auto) <= allocatedBytes(cp) + 4096, `du: blockcopy ${allocatedBytes(auto)}, cp --sparse=auto ${allocatedBytes(cp)}`)
    const dense = join(dir, 'dense.img')
    const all = cli(['copy', src, dense, '--no-sparse', '--progress', 'none'])
    assert.is(all.status, 0, all.stderr)
    assert.ok(allocatedBytes(dense) >= size, `du with --no-sparse: ${allocatedBytes(dense)}`)
  })
})

test('zero --sparse is a usage error (exit 2) and writes nothing', async () => {
  await withTempDir('cli-sparse', (dir) => {
    const dst = join(dir, 'dst.img')
    const run = cli(['zero', dst, '--length', '1MiB', '--sparse'])
    assert.is(run.status, 2)
    assert.match(run.stderr, /--sparse/)
    assert.not.ok(existsSync(dst))
  })
})

test.run()
