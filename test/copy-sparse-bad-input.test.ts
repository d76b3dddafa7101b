import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type ZeroOptions } from '../src/index.js'
import { refuses } from './helpers/refuses.js'
import { writeSparseFile } from './helpers/sparse.js'
import { makeTempDir, readRange, removeTempDir, writePatternFile } from './helpers/tmp.js'

const test = suite('a bad sparse option is refused before anything is written')
let client: CopyClient
let dir: string
const MiB = 1024 * 1024

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-sparse-bad-')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('sparse that is not a mode or a boolean is INVALID_ARGUMENT naming sparse, and no destination is created or changed', () => {
  const src = join(dir, 'src.img')
  writeSparseFile(src, 4 * MiB, [{ offset: MiB, length: 4096 }])
  const [fresh, old] = [join(dir, 'fresh.img'), join(dir, 'old.img')]
  writePatternFile(old, 4 * MiB, 0x42)
  for (const sparse of ['yes', 1, null, 'Auto']) {
    refuses(
      () => client.copy({ path: src }, [{ path: old }, { path: fresh }], { sparse: sparse as unknown as boolean }),
      'INVALID_ARGUMENT', /^sparse: must be 'auto', 'always' or 'never' \(or true for 'always', false for 'never'\), got /,
    )
  }
  assert.not.ok(existsSync(fresh))
  assert.ok(readRange(old, 0, 4 * MiB).every((b) => b === 0x42))
})

test('sparse on a zero job is INVALID_ARGUMENT: it applies to copies only', () => {
  const dst = join(dir, 'dst.img')
  const options = { length: MiB, sparse: true } as ZeroOptions
  refuses(() => client.zero([{ path: dst }], options), 'INVALID_ARGUMENT', /^sparse: applies to copies only/)
  assert.not.ok(existsSync(dst))
})

test.run()
