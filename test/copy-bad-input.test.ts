import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, readRange, removeTempDir, writePatternFile, writeRandomFile } from './helpers/tmp.js'
import { refuses } from './helpers/refuses.js'

const test = suite('bad input is refused before anything is written')
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
  dir = makeTempDir('copy-bad-')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('a missing source is NOT_FOUND_VOLUME and no destination is created', () => {
  const dst = join(dir, 'dst.img')
  refuses(() => client.copy({ path: join(dir, 'nope.img') }, [{ path: dst }]), 'NOT_FOUND_VOLUME', /from\.path: .*nope\.img does not exist/)
  assert.not.ok(existsSync(dst))
})

test('a range past the end of the source names from.length and the source size', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 1)
  const dst = join(dir, 'dst.img')
  refuses(() => client.copy({ path: src, offset: 4096, length: MiB }, [{ path: dst }]), 'INVALID_ARGUMENT', /from\.length: bytes 4096\.\.1052672 pass the end of .* \(1048576 bytes\)/)
  refuses(() => client.copy({ path: src, offset: MiB + 1 }, [{ path: dst }]), 'INVALID_ARGUMENT', /from\.offset: 1048577 is past the end/)
  assert.not.ok(existsSync(dst))
})

test('zero destinations and nine destinations are refused', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 4096, 1)
  refuses(() => client.copy({ path: src }, []), 'INVALID_ARGUMENT', /to: between 1 and 8 destinations, got 0/)
  const nine = Array.from({ length: 9 }, (_, i) => ({ path: join(dir, `d${i}.img`) }))
  refuses(() => client.copy({ path: src }, nine), 'INVALID_ARGUMENT', /to: between 1 and 8 destinations, got 9/)
  assert.equal(readdirSync(dir), ['src.img'])
})

test('a destination overlapping its own source bytes is refused, naming both ranges', () => {
  const src = join(dir, 'src.img')
  writePatternFile(src, 2 * MiB, 0x77)
  refuses(() => client.copy({ path: src, offset: 0, length: MiB }, [{ path: src, offset: MiB - 1 }]), 'INVALID_ARGUMENT', /to\[0\]: bytes 1048575\.\.2097151 of .* overlap `from` bytes 0\.\.1048576/)
  assert.ok(readRange(src, 0, 2 * MiB).every((b) => b === 0x77))
})

test('two destinations overlapping each other are refused', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 2)
  const dst = join(dir, 'dst.img')
  refuses(() => client.copy({ path: src }, [{ path: dst }, { path: dst, offset: 4096 }]), 'INVALID_ARGUMENT', /to\[1\].*overlap `to\[0\]`.*destinations may not overlap/)
  assert.not.ok(existsSync(dst))
  // The same file still to be created, by two names: through a symlinked directory, and through a dangling link.
  mkdirSync(join(dir, 'real'))
  symlinkSync(join(dir, 'real'), join(dir, 'lnk'))
  const a = join(dir, 'real', 'n.img')
  refuses(() => client.copy({ path: src }, [{ path: a }, { path: join(dir, 'lnk', 'n.img'), offset: 4096 }]), 'INVALID_ARGUMENT', /to\[1\].*overlap `to\[0\]`.*destinations may not overlap/)
  symlinkSync(a, join(dir, 'dangling'))
  refuses(() => client.copy({ path: src }, [{ path: a }, { path: join(dir, 'dangling'), offset: 1000 }]), 'INVALID_ARGUMENT', /to\[1\].*overlap `to\[0\]`.*destinations may not overlap/)
  assert.not.ok(existsSync(a), 'nothing created')
})

test('chunk sizes outside 64 KiB to 16 MiB, or not a multiple of 4 KiB, are refused', async () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 3)
  const dst = join(dir, 'dst.img')
  refuses(() => client.copy({ path: src }, [{ path: dst }], { chunkBytes: 32 * 1024 }), 'INVALID_ARGUMENT', /chunkBytes: must be a whole number from 65536 to 16777216/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { chunkBytes: 100_000 }), 'INVALID_ARGUMENT', /chunkBytes: must be a multiple of 4096/)
  // Within bounds, but larger than this client's worker buffers.
  refuses(() => client.copy({ path: src }, [{ path: dst }], { chunkBytes: 16 * MiB }), 'INVALID_ARGUMENT', /chunkBytes: .*does not fit the client's worker buffers/)
  let created: unknown
  try {
    await createClient({ chunkBytes: 32 * MiB })
  } catch (err) {
    created = err
  }
  assert.is((created as { code?: string }).code, 'INVALID_ARGUMENT')
  assert.not.ok(existsSync(dst))
})

test('a memory budget too small for the threads and chunk size is refused at client creation', async () => {
  let caught: unknown
  try {
    await createClient({ threads: 4, chunkBytes: 4 * MiB, memoryBytes: 16 * MiB })
  } catch (err) {
    caught = err
  }
  const e = caught as Error & { code?: string }
  assert.is(e.code, 'INVALID_ARGUMENT')
  assert.match(e.message, /^threads: 4 with chunkBytes 4194304 needs memoryBytes 33587200 bytes .*; memoryBytes is 16777216$/)
})

test('a destination range ending past 2^53 is refused before anything is created', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 4096, 8)
  const dst = join(dir, 'dst.img')
  refuses(() => client.copy({ path: src }, [{ path: dst, offset: Number.MAX_SAFE_INTEGER - 100 }]), 'INVALID_ARGUMENT', /to\[0\]: .*pass 2\^53/)
  assert.not.ok(existsSync(dst))
})

test('unknown verify modes and non-integer offsets are refused', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 4)
  const dst = join(dir, 'dst.img')
  refuses(() => client.copy({ path: src }, [{ path: dst }], { verify: 'md5' as never }), 'INVALID_ARGUMENT', /verify: must be 'none', 'hash' or 'readback'/)
  refuses(() => client.copy({ path: src, offset: 1.5 }, [{ path: dst }]), 'INVALID_ARGUMENT', /from\.offset: must be a whole number of bytes/)
  refuses(() => client.copy({ path: src }, [{ path: dst, offset: -4096 }]), 'INVALID_ARGUMENT', /to\[0\]\.offset: must be a whole number/)
  assert.not.ok(existsSync(dst))
})

test('a new destination through a relative link in a symlinked directory is created where the kernel puts it', async () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 100_000, 11)
  mkdirSync(join(dir, 'real', 'sub'), { recursive: true })
  mkdirSync(join(dir, 'real', 'out'))
  symlinkSync(join(dir, 'real', 'sub'), join(dir, 'symdir'))
  // Relative to real/sub, where the link really is: real/out/target.
  symlinkSync('../out/target', join(dir, 'symdir', 'lnk'))
  const r = await client.copy({ path: src }, [{ path: join(dir, 'symdir', 'lnk') }]).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(readRange(join(dir, 'real', 'out', 'target'), 0, 100_000).equals(readRange(src, 0, 100_000)))
})

test('a destination that cannot be written is refused by name before any other is created', async () => {
  const why = skipUnlessRoot('mounts a read-only tmpfs')
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 8)
  const ro = join(dir, 'ro')
  mkdirSync(ro)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', ro])
  execFileSync('mount', ['-o', 'remount,ro', ro])
  try {
    const first = join(dir, 'first.img')
    refuses(() => client.copy({ path: src }, [{ path: first }, { path: join(ro, 'new.img') }]), 'EROFS', /^EROFS: to\[1\]\.path: .*new\.img cannot be created in .*ro$/)
    refuses(() => client.zero([{ path: first, length: 4096 }, { path: join(ro, 'new.img'), length: 4096 }]), 'EROFS', /^EROFS: to\[1\]\.path: .*cannot be created in .*ro$/)
    assert.not.ok(existsSync(first), 'the first destination was never created')
  } finally {
    await unmount(ro)
  }
})

test('a range of more than 2^32 chunks is refused before anything is created', async () => {
  const why = skipUnlessRoot('mounts tmpfs, which holds a sparse file of 2^52 bytes')
  if (why) return logSkip(why)
  const mnt = join(dir, 'tmpfs')
  mkdirSync(mnt)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt])
  try {
    const huge = join(mnt, 'huge')
    execFileSync('truncate', ['-s', String(2 ** 52), huge])
    const small = await createClient({ threads: 2, chunkBytes: 64 * 1024 })
    try {
      refuses(() => small.copy({ path: huge }, [{ path: join(mnt, 'copy') }]), 'INVALID_ARGUMENT', /^from\.length: 4503599627370496 bytes in chunks of 65536 make more than 2\^32 chunks/)
      refuses(() => small.zero([{ path: huge }]), 'INVALID_ARGUMENT', /^length: 4503599627370496 bytes in chunks of 65536 make more than 2\^32 chunks/)
    } finally {
      await small.destroy()
    }
    assert.equal(readdirSync(mnt), ['huge'], 'nothing created')
  } finally {
    await unmount(mnt)
  }
})

test('direct always on a file system that refuses O_DIRECT is NO_SUPPORT and creates nothing', async () => {
  const why = skipUnlessRoot('mounts ramfs, which has no O_DIRECT')
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 5)
  const mnt = join(dir, 'ramfs')
  mkdirSync(mnt)
  execFileSync('mount', ['-t', 'ramfs', 'ramfs', mnt])
  try {
    const dst = join(mnt, 'dst.img')
    refuses(() => client.copy({ path: src }, [{ path: dst }], { direct: 'always' }), 'NO_SUPPORT', /to\[0\]\.path: `direct: 'always'`, but .*dst\.img refuses O_DIRECT \(EINVAL/)
    assert.equal(readdirSync(mnt), [])
    // The same copy with 'auto' goes through the page cache and says so.
    const r = await client.copy({ path: src }, [{ path: dst }]).result
    assert.is(r.ok, true)
    assert.equal(r.direct.dests, [false])
    assert.equal(readdirSync(mnt), ['dst.img'])
  } finally {
    await unmount(mnt)
  }
})

test('a destroyed client refuses new work with CLIENT_DESTROYED', async () => {
  const c = await createClient({ threads: 1 })
  await c.destroy()
  const src = join(dir, 'src.img')
  writeRandomFile(src, 4096, 6)
  refuses(() => c.copy({ path: src }, [{ path: join(dir, 'dst.img') }]), 'CLIENT_DESTROYED', /destroyed/)
  assert.not.ok(existsSync(join(dir, 'dst.img')))
})

test.run()
