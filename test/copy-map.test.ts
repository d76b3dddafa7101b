import { spawnSync } from 'node:child_process'
import { existsSync, linkSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { formatMap, parseMap, setStatus, freshMap } from '../src/journal/mapfile.js'
import { logSkip } from './helpers/root.js'
import { refuses } from './helpers/refuses.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('copy with a resume map (ddrescue mapfile)')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 64 * KiB
const SIZE = 16 * MiB + 700
let client: CopyClient
let dir: string
let src: string
let dst: string
let map: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-map')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
  map = join(dir, 'copy.map')
  writeRandomFile(src, SIZE, 91)
})
test.after.each(() => {
  removeTempDir(dir)
})

const ddrescuelog = spawnSync('ddrescuelog', ['--version']).status === 0

test('block statuses: set, split and merge; the text round-trips; ddrescuelog reads it', () => {
  const m = freshMap(4096, 10 * 4096, 1 << 20)
  setStatus(m, 4096, 4096, '+')
  setStatus(m, 3 * 4096, 2 * 4096, '+')
  setStatus(m, 2 * 4096, 4096, '+')
  setStatus(m, 6 * 4096, 512, '-')
  assert.equal(m.blocks.map((b) => [b.pos, b.size, b.status]), [[4096, 4 * 4096, '+'], [5 * 4096, 4096, '?'], [6 * 4096, 512, '-'], [6 * 4096 + 512, 4 * 4096 + 3584, '?']])
  const text = formatMap(m, 'blockcopy copy a b --map m', new Date(0))
  assert.match(text, /^0x00001000 {5}\? {15}1$/m)
  assert.match(text, /^0x00001000 {2}0x00004000 {2}\+$/m)
  const back = parseMap(text, 'm')
  assert.equal(back, m)
  if (!ddrescuelog) return logSkip('ddrescuelog (apt gddrescue) is not installed')
  const file = join(dir, 'unit.map')
  writeFileSync(file, text)
  const bad = spawnSync('ddrescuelog', ['-l-', '-b', '512', file], { encoding: 'utf8' })
  assert.is(bad.status, 0, bad.stderr)
  assert.equal(bad.stdout.trim().split('\n'), [String((6 * 4096) / 512)])
})

test('damaged maps are refused naming the file, the line and the rule', () => {
  const cases: Array<[string, RegExp]> = [
    ['# only comments\n', /no current_pos \/ current_status line/],
    ['0x0 ? 1\n0x0 0x1000 +\n0x2000 0x1000 +\n', /line 3: block at 8192 does not start where the one before ends \(4096\)/],
    ['0x0 ? 1\n0x0 0x1000 X\n', /line 2: block status "X" is not one of/],
    ['0x0 Q 1\n', /line 1: current status "Q"/],
    ['0x0 ? 1\n0x0 zz +\n', /line 2: size "zz" is not a whole number/],
  ]
  for (const [text, why] of cases) {
    refuses(() => parseMap(text, '/m/x.map'), 'INVALID_ARGUMENT', why)
    refuses(() => parseMap(text, '/m/x.map'), 'INVALID_ARGUMENT', /^map: \/m\/x\.map line \d+: /)
  }
})

test('a cancelled copy saves its map; the rerun copies only what is not +, and ends byte-exact with the map all +', async () => {
  const controller = new AbortController()
  const job = client.copy({ path: src }, [{ path: dst }], { map, signal: controller.signal, mapIntervalMs: 50 })
  let seen = 0
  job.on('progress', () => {
    if (++seen === 40) controller.abort()
  })
  const r = await job.result
  assert.is(r.cancelled, true)
  assert.ok(r.map)
  const first = parseMap(readFileSync(map, 'utf8'), map)
  const done = first.blocks.filter((b) => b.status === '+').reduce((n, b) => n + b.size, 0)
  assert.is(done, r.completedBytes, 'every completed chunk is + once the job has synced')
  assert.is(r.map?.rescuedBytes, done)
  assert.is(r.map?.pendingBytes, SIZE - done)
  assert.is(first.currentStatus, '?')

  const again = await client.copy({ path: src }, [{ path: dst }], { map }).result
  assert.is(again.ok, true, JSON.stringify(again.errors))
  assert.is(again.completedBytes, SIZE - done, 'only what the first run had not done')
  assert.equal(again.map, { path: map, resumedBytes: done, rescuedBytes: SIZE, badBytes: 0, pendingBytes: 0 })
  assert.ok(cmpFiles(src, dst), 'byte-exact')
  const last = parseMap(readFileSync(map, 'utf8'), map)
  assert.equal(last.blocks, [{ pos: 0, size: SIZE, status: '+' }])
  assert.is(last.currentStatus, '+')
  assert.match(readFileSync(map, 'utf8'), /^# Finished$/m)

  // A third run has nothing left to do.
  const third = await client.copy({ path: src }, [{ path: dst }], { map }).result
  assert.is(third.completedBytes, 0)
  assert.is(third.ok, true)
})

test('temporary files a killed run left beside the map are removed; a live process\'s is kept', async () => {
  const dead = spawnSync('true').pid as number
  // A save cut short: a map's first line, and part of the next.
  const half = '# Mapfile. Created by blockcopy (GNU ddrescue mapfile format)\n# Command li'
  writeFileSync(`${map}.tmp-${dead}`, half)
  writeFileSync(`${map}.tmp-${process.ppid}`, half)
  const r = await client.copy({ path: src }, [{ path: dst }], { map }).result
  assert.is(r.ok, true)
  assert.not.ok(existsSync(`${map}.tmp-${dead}`))
  assert.ok(existsSync(`${map}.tmp-${process.ppid}`))
})

test('ranges and offsets: the map covers the source range, and resuming writes at the destination offsets', async () => {
  const from = { path: src, offset: 3 * CHUNK + 100, length: 5 * MiB }
  const to = [{ path: dst, offset: 7777 }, { path: join(dir, 'dst2.img'), offset: 0 }]
  const controller = new AbortController()
  const job = client.copy(from, to, { map, signal: controller.signal })
  job.once('progress', () => controller.abort())
  await job.result
  const m = parseMap(readFileSync(map, 'utf8'), map)
  assert.is(m.blocks[0]?.pos, from.offset)
  const r = await client.copy(from, to, { map }).result
  assert.is(r.ok, true)
  assert.ok(cmpFiles(src, dst, { aOffset: from.offset, bOffset: 7777, length: from.length }))
  assert.ok(cmpFiles(src, join(dir, 'dst2.img'), { aOffset: from.offset, length: from.length }))
})

test('bad input: a map of another range or source, a missing destination for a map with + bytes, since, nothing created', async () => {
  await client.copy({ path: src, offset: 0, length: 4 * MiB }, [{ path: dst }], { map }).result
  const before = readFileSync(map, 'utf8')
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map }), 'INVALID_ARGUMENT', /^map: .*copy\.map covers source bytes 0\.\.4194304, but this copy is of bytes 0\.\.16777916: it is the map of another copy/)
  const other = join(dir, 'other.img')
  writeRandomFile(other, 8 * MiB, 3)
  refuses(() => client.copy({ path: other, offset: 0, length: 4 * MiB }, [{ path: dst }], { map }), 'MAP_MISMATCH', /^map: .*copy\.map is the map of another source: it was made for a source of 16777916 bytes; this source has 8388608\. Nothing was written/)
  const fresh = join(dir, 'fresh.img')
  refuses(() => client.copy({ path: src, offset: 0, length: 4 * MiB }, [{ path: fresh }], { map }), 'INVALID_ARGUMENT', /records 4194304 bytes as copied, up to source byte 4194304, but to\[0\]\.path .*fresh\.img does not exist/)
  assert.not.ok(existsSync(fresh), 'nothing created')
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map: join(dir, 'no', 'm.map') }), 'NOT_FOUND_VOLUME', /^map: the directory of/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map, mapIntervalMs: 5 }), 'INVALID_ARGUMENT', /^mapIntervalMs: must be a whole number of milliseconds from 50 to 60000/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { mapIntervalMs: 500 }), 'INVALID_ARGUMENT', /^mapIntervalMs: only applies with `map`/)
  writeFileSync(join(dir, 'junk.map'), 'hello\n')
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map: join(dir, 'junk.map') }), 'INVALID_ARGUMENT', /junk\.map line 1: current status/)
  assert.is(readFileSync(map, 'utf8'), before, 'the map is untouched')
  assert.is(statSync(dst).size, 4 * MiB)
})

test('the map is a file of its own: not the source, not a destination (even one still to be created), in a directory that can be written', async () => {
  const fresh = join(dir, 'fresh.img')
  refuses(() => client.copy({ path: src }, [{ path: fresh }], { map: fresh }), 'INVALID_ARGUMENT', /^map: .*fresh\.img is to\[0\]\.path .*fresh\.img \(the same path\); two files a command writes must be different files/)
  // The same new file by other names: a dangling link to it, and through a symlinked directory.
  symlinkSync(fresh, join(dir, 'map.lnk'))
  refuses(() => client.copy({ path: src }, [{ path: fresh }], { map: join(dir, 'map.lnk') }), 'INVALID_ARGUMENT', /map\.lnk is to\[0\]\.path .*fresh\.img \(the same file still to be created, one name through a symlink\)/)
  symlinkSync(dir, join(dir, 'alias-dir'))
  refuses(() => client.copy({ path: src }, [{ path: fresh }], { map: join(dir, 'alias-dir', 'fresh.img') }), 'INVALID_ARGUMENT', /alias-dir\/fresh\.img is to\[0\]\.path .*fresh\.img \(the same file still to be created/)
  assert.not.ok(existsSync(fresh), 'nothing created')
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map: src }), 'INVALID_ARGUMENT', /^map: .*src\.img is from\.path .*src\.img \(the same path\); a command never writes a file it reads/)
  const alias = join(dir, 'alias.img')
  writeFileSync(dst, '')
  linkSync(dst, alias)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map: alias }), 'INVALID_ARGUMENT', /^map: .*alias\.img is to\[0\]\.path .*dst\.img \(hard links of the same file\)/)
  const mapDir = join(dir, 'maps')
  mkdirSync(mapDir)
  if (spawnSync('chattr', ['+i', mapDir]).status !== 0) return logSkip('no immutable attribute here')
  try {
    refuses(() => client.copy({ path: src }, [{ path: fresh }], { map: join(mapDir, 'm.map') }), 'INVALID_ARGUMENT', /^map: .*m\.map is saved by writing in .*maps, which cannot be written \(E(PERM|ACCES)\)/)
    assert.not.ok(existsSync(fresh), 'nothing created')
  } finally {
    spawnSync('chattr', ['-i', mapDir])
  }
})

test('a map that is a FIFO, a directory or a device node is refused before it is read, since saving it would replace it', () => {
  const fifo = join(dir, 'fifo.map')
  spawnSync('mkfifo', [fifo])
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map: fifo }), 'INVALID_ARGUMENT', /^map: .*fifo\.map is not a regular file but a FIFO; it is saved by writing a new file beside it and renaming that over/)
  mkdirSync(join(dir, 'folder.map'))
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map: join(dir, 'folder.map') }), 'INVALID_ARGUMENT', /^map: .*folder\.map is not a regular file but a directory/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map: '/dev/null' }), 'INVALID_ARGUMENT', /^map: \/dev\/null is not a regular file but a character device/)
  assert.not.ok(existsSync(dst), 'nothing created')
  assert.ok(lstatSync(fifo).isFIFO())
})

test('a map records where its destinations start: resuming to other offsets, or other destinations, is refused', async () => {
  const controller = new AbortController()
  const job = client.copy({ path: src }, [{ path: dst, offset: 0 }], { map, signal: controller.signal })
  job.once('progress', () => controller.abort())
  const r = await job.result
  assert.ok(r.cancelled || r.ok)
  assert.match(readFileSync(map, 'utf8'), /^# blockcopy dest-offsets 0$/m)
  refuses(() => client.copy({ path: src }, [{ path: dst, offset: MiB }], { map }), 'INVALID_ARGUMENT', /^map: .*copy\.map was made for 1 destination\(s\) at offsets 0; this copy writes 1 at 1048576/)
  const two = join(dir, 'two.img')
  writeRandomFile(two, SIZE, 5)
  refuses(() => client.copy({ path: src }, [{ path: dst }, { path: two }], { map }), 'INVALID_ARGUMENT', /was made for 1 destination\(s\) at offsets 0; this copy writes 2 at 0, 0/)
  // The same destinations resume, and end byte-exact.
  const done = await client.copy({ path: src }, [{ path: dst, offset: 0 }], { map }).result
  assert.is(done.ok, true, JSON.stringify(done.errors))
  assert.ok(cmpFiles(src, dst))
})

test('a map reached through a symlink is saved where the link points; the link stays a link', async () => {
  const real = join(dir, 'real.map')
  symlinkSync(real, map)
  const r = await client.copy({ path: src }, [{ path: dst }], { map: join(dir, 'copy.map') }).result
  assert.is(r.ok, true)
  assert.ok(lstatSync(map).isSymbolicLink())
  assert.match(readFileSync(real, 'utf8'), /^# Finished$/m)
})

test.run()
