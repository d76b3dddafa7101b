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

test('copy --sparse says in its summary how much was punched or zeroed out instead of written; without it, nothing is', async () => {
  await withTempDir('cli-sparse', (dir) => {
    const src = join(dir, 'src.img')
    writeSparseFile(src, 16 * MiB, [{ offset: 4 * MiB, length: MiB }])
    const sparse = cli(['copy', src, join(dir, 'a.img'), '--sparse', '--threads', '2', '--progress', 'none'])
    assert.is(sparse.status, 0, sparse.stderr)
    assert.match(sparse.stdout, /^sparse: 15(\.0+)? MiB punched or zeroed out, not written$/m)
    const plain = cli(['copy', src, join(dir, 'b.img'), '--threads', '2', '--progress', 'none'])
    assert.is(plain.status, 0, plain.stderr)
    assert.not.match(plain.stdout, /holes/)
    assert.ok(allocatedBytes(join(dir, 'b.img')) >= 16 * MiB)
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
