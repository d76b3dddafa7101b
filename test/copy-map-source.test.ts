import { spawnSync } from 'node:child_process'
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { parseMap } from '../src/journal/mapfile.js'
import { sampleSpans } from '../src/journal/source-check.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { refuses, refusesAsync } from './helpers/refuses.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('a resume map knows its source, and is locked')
const KiB = 1024
const MiB = 1024 * KiB
const SIZE = 8 * MiB + 300
let client: CopyClient
let dir: string
let a: string
let dst: string
let map: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: 256 * KiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-map-source')
  a = join(dir, 'a.img')
  dst = join(dir, 'dst.img')
  map = join(dir, 'copy.map')
  writeRandomFile(a, SIZE, 81)
})
test.after.each(() => {
  removeTempDir(dir)
})

/** A run of `from` to dst with the map that stops after its first chunks: the map has some +, and some ?. */
async function partial(from: string, extra: { force?: boolean } = {}): Promise<void> {
  const controller = new AbortController()
  const job = client.copy({ path: from }, [{ path: dst }], { map, mapIntervalMs: 50, signal: controller.signal, ...extra })
  let seen = 0
  job.on('progress', () => {
    if (++seen === 6) controller.abort()
  })
  const r = await job.result
  assert.ok(r.cancelled, 'stopped part-way')
}

const lines = (text: string) => ({
  identity: /^# blockcopy source-identity (\S+)$/m.exec(text)?.[1],
  sample: /^# blockcopy source-sample (.*)$/m.exec(text)?.[1],
})

test('the map records the source: its identity and a sample of 8 blocks across the range, each with its digest', async () => {
  const r = await client.copy({ path: a }, [{ path: dst }], { map }).result
  assert.is(r.ok, true)
  const m = parseMap(readFileSync(map, 'utf8'), map)
  assert.match(m.sourceIdentity ?? '', /^ino:\d+:\d+$/)
  assert.equal(m.sourceSample?.map((b) => [b.pos, b.size]), sampleSpans(0, SIZE).map((s) => [s.pos, s.size]))
  assert.is(m.sourceSample?.length, 8)
  assert.is(m.sourceSample?.[7]?.pos, SIZE - 4096, 'the last block ends where the range does')
  assert.ok(m.sourceSample?.every((b) => /^[0-9a-f]{16}$/.test(b.digest ?? '')))
  assert.is(m.sourceMtimeNs, statSync(a, { bigint: true }).mtimeNs, 'and its modification time, to the nanosecond')
  if (spawnSync('ddrescuelog', ['--version']).status !== 0) return logSkip('ddrescuelog is not installed (apt-get install gddrescue)')
  const t = spawnSync('ddrescuelog', ['-t', map], { encoding: 'utf8' })
  assert.is(t.status, 0, t.stderr)
  assert.match(t.stdout, /rescued:\s+8388 kB/)
})

test('another source of the same size: MAP_MISMATCH naming the blocks that differ; nothing written, the map untouched, its lock let go', async () => {
  await partial(a)
  const b = join(dir, 'b.img')
  writeRandomFile(b, SIZE, 82)
  const mapBefore = readFileSync(map, 'utf8')
  const dstBefore = readFileSync(dst)
  await refusesAsync(
    client.copy({ path: b }, [{ path: dst }], { map }).result, 'MAP_MISMATCH',
    /^map: .*copy\.map is the map of another source: 8 of the 8 blocks sampled at its first run read differently now \(source bytes 0\.\.4096 and 7 more\); it is the file with inode \d+ on device \d+:\d+, where the map's source was the file with inode \d+ .*Nothing was written/,
  )
  assert.is(readFileSync(map, 'utf8'), mapBefore, 'the map is as it was')
  assert.ok(readFileSync(dst).equals(dstBefore), 'the destination is as it was')
  assert.not.ok(existsSync(`${map}.lock`), 'no lock file left')
  // The right source resumes, and ends byte-exact.
  const r = await client.copy({ path: a }, [{ path: dst }], { map }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.map?.sourceNote, undefined)
  assert.ok(cmpFiles(a, dst))
})

test('a copy of the source (another inode, the same data) is another source: MAP_MISMATCH naming both files; force resumes it', async () => {
  await partial(a)
  const restored = join(dir, 'restored.img')
  copyFileSync(a, restored)
  const mapBefore = readFileSync(map, 'utf8')
  await refusesAsync(
    client.copy({ path: restored }, [{ path: dst }], { map }).result, 'MAP_MISMATCH',
    /^map: .*copy\.map is the map of another source: it is the file with inode \d+ on device \d+:\d+, where the map's source was the file with inode \d+ on device \d+:\d+\. Nothing was written/,
  )
  assert.is(readFileSync(map, 'utf8'), mapBefore, 'the map is as it was')
  const r = await client.copy({ path: restored }, [{ path: dst }], { map, force: true }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.match(r.map?.sourceNote ?? '', /^forced: it is the file with inode \d+ .*, where the map's source was the file with inode \d+/)
  assert.ok(cmpFiles(a, dst))
  // The map now names the source it was resumed from.
  const st = statSync(restored)
  assert.is(lines(readFileSync(map, 'utf8')).identity, `ino:${st.dev}:${st.ino}`)
})

test('the source written in place outside the sampled blocks: MAP_MISMATCH saying it was modified since; force resumes it', async () => {
  await partial(a)
  // A byte no sampled block holds, at the file's own place: same inode, same size, same samples.
  const at = 3 * MiB + 12345
  assert.ok(sampleSpans(0, SIZE).every((b) => at < b.pos || at >= b.pos + b.size))
  const fd = openSync(a, 'r+')
  writeSync(fd, Buffer.from([0x5a]), 0, 1, at)
  closeSync(fd)
  // A modification time the map cannot have recorded, however coarse the clock.
  utimesSync(a, new Date(2001, 0, 1), new Date(2001, 0, 1))
  await refusesAsync(
    client.copy({ path: a }, [{ path: dst }], { map }).result, 'MAP_MISMATCH',
    /^map: .*copy\.map is the map of another source: it was modified since the map was started \(modification time \d{4}-\d\d-\d\d [\d:]+\.\d{9} UTC then, 2001-01-0\d [\d:]+\.000000000 UTC now\), so bytes the map calls done may differ from it\. Nothing was written/,
  )
  const r = await client.copy({ path: a }, [{ path: dst }], { map, force: true }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.match(r.map?.sourceNote ?? '', /^forced: it was modified since the map was started/)
  assert.match(readFileSync(map, 'utf8'), new RegExp(`^# blockcopy source-mtime ${String(statSync(a, { bigint: true }).mtimeNs)}$`, 'm'), 'the map records the mtime it resumed with')
})

test('a map with the source lines of the release before (no mtime line) resumes as before, and records the mtime from then on', async () => {
  await partial(a)
  const old = readFileSync(map, 'utf8').split('\n').filter((l) => !l.startsWith('# blockcopy source-mtime')).join('\n')
  writeFileSync(map, old)
  const r = await client.copy({ path: a }, [{ path: dst }], { map }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.map?.sourceNote, undefined)
  assert.ok(cmpFiles(a, dst))
  assert.match(readFileSync(map, 'utf8'), /^# blockcopy source-mtime \d+$/m)
})

test('the source changed in place at a sampled block: MAP_MISMATCH; force resumes it and records the source as it now is', async () => {
  await partial(a)
  const before = lines(readFileSync(map, 'utf8'))
  const fd = readFileSync(a)
  fd[5] = (fd[5] as number) ^ 0xff
  writeFileSync(a, fd)
  await refusesAsync(client.copy({ path: a }, [{ path: dst }], { map }).result, 'MAP_MISMATCH', /1 of the 8 blocks sampled at its first run read differently now \(source bytes 0\.\.4096\), though it is still the file with inode/)
  const r = await client.copy({ path: a }, [{ path: dst }], { map, force: true }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.match(r.map?.sourceNote ?? '', /^forced: 1 of the 8 blocks/)
  const after = lines(readFileSync(map, 'utf8'))
  assert.is(after.identity, before.identity)
  assert.is.not(after.sample, before.sample, 'the sample is this source\'s now')
  refuses(() => client.copy({ path: a }, [{ path: dst }], { force: true }), 'INVALID_ARGUMENT', /^force: only applies with `since` \(an incremental copy\) or `map`/)
})

test('a source of another size is MAP_MISMATCH before anything is opened; force resumes it', async () => {
  const other = join(dir, 'other.img')
  writeRandomFile(other, 8 * MiB, 83)
  await client.copy({ path: a, offset: 0, length: 4 * MiB }, [{ path: dst }], { map }).result
  refuses(() => client.copy({ path: other, offset: 0, length: 4 * MiB }, [{ path: dst }], { map }), 'MAP_MISMATCH', /it was made for a source of 8388908 bytes; this source has 8388608/)
  assert.not.ok(existsSync(`${map}.lock`))
  // Forced, and the first 4 MiB of both are other data: the sampled blocks differ too, and the note says both.
  const r = await client.copy({ path: other, offset: 0, length: 4 * MiB }, [{ path: dst }], { map, force: true }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.match(r.map?.sourceNote ?? '', /^forced: it was made for a source of 8388908 bytes; this source has 8388608; forced: 8 of the 8 blocks/)
})

test('a map without the source lines (an older blockcopy\'s, or ddrescue\'s) resumes as before and records the source from then on', async () => {
  await partial(a)
  const old = readFileSync(map, 'utf8').split('\n').filter((l) => !l.startsWith('# blockcopy source-')).join('\n')
  writeFileSync(map, old)
  const r = await client.copy({ path: a }, [{ path: dst }], { map }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.match(r.map?.sourceNote ?? '', /the map had no record of its source/)
  assert.ok(cmpFiles(a, dst))
  const now = lines(readFileSync(map, 'utf8'))
  assert.match(now.identity ?? '', /^ino:/)
  assert.is(now.sample?.split(' ').length, 8)
})

test('two runs on one map at once: the second is refused while the first holds MAP.lock, which goes as the first ends', async () => {
  const slow = await createClient({ threads: 2, chunkBytes: 256 * KiB, rateBytesPerSec: 512 * KiB })
  try {
    const first = slow.copy({ path: a }, [{ path: dst }], { map })
    await new Promise((resolve) => first.once('progress', resolve))
    assert.ok(existsSync(`${map}.lock`), 'the running copy holds the lock file')
    refuses(() => client.copy({ path: a }, [{ path: dst }], { map }), 'INVALID_ARGUMENT', /^map: .*copy\.map is in use by another copy \(.*copy\.map\.lock is locked\): one copy at a time per map/)
    first.cancel()
    const r = await first.result
    assert.ok(r.cancelled)
    assert.not.ok(existsSync(`${map}.lock`), 'the lock file is removed as the lock is let go')
    const again = await client.copy({ path: a }, [{ path: dst }], { map }).result
    assert.is(again.ok, true)
    assert.ok(cmpFiles(a, dst))
  } finally {
    await slow.destroy()
  }
})

test('sampled blocks that cannot be read never fail the copy: recorded as -, left out on resume, recorded once they read', async () => {
  const fault = await mountFaultFsIn(dir, [])
  if (typeof fault === 'string') return logSkip(fault)
  try {
    writeRandomFile(join(fault.backingDir, 'src.img'), SIZE, 84)
    const src = join(fault.mountDir, 'src.img')
    // The first sampled block is a bad sector of the source.
    fault.setRules([{ op: 'read', path: 'src.img', offset: 0, length: 4 * KiB, errno: 'EIO' }])
    const first = await client.copy({ path: src }, [{ path: dst }], { map, ignoreErrors: true }).result
    assert.equal(first.errors.map((e) => [e.offset, e.length, e.code]), [[0, 4 * KiB, 'EIO']], 'only the bad block, as data')
    assert.match(lines(readFileSync(map, 'utf8')).sample ?? '', /^0:4096:- \d+:4096:[0-9a-f]{16}/)
    const resumed = await client.copy({ path: src }, [{ path: dst }], { map, retryBad: 1 }).result
    assert.is(resumed.map?.sourceNote, undefined, 'nothing to accept: the readable blocks match')
    fault.setRules([])
    const healed = await client.copy({ path: src }, [{ path: dst }], { map, retryBad: 1 }).result
    assert.is(healed.ok, true, JSON.stringify(healed.errors))
    assert.match(lines(readFileSync(map, 'utf8')).sample ?? '', /^0:4096:[0-9a-f]{16} /, 'the block that reads now is recorded')
    assert.ok(cmpFiles(join(fault.backingDir, 'src.img'), dst))
    // Another file none of whose sampled blocks can be read: nothing shows it is the same data.
    copyFileSync(join(fault.backingDir, 'src.img'), join(fault.backingDir, 'copy.img'))
    fault.setRules([{ op: 'read', path: 'copy.img', errno: 'EIO' }])
    await refusesAsync(
      client.copy({ path: join(fault.mountDir, 'copy.img') }, [{ path: dst }], { map, ignoreErrors: true }).result, 'MAP_MISMATCH',
      /is the map of another source: it is the file with inode \d+ .*, where the map's source was the file with inode \d+/,
    )
  } finally {
    await fault.unmount()
  }
})

test('a loop device detached and attached again under another number is the same source (its file): the copy resumes, no note', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'disk.img')
  writeRandomFile(backing, 8 * MiB, 85)
  const before = await attachLoop(backing, { readOnly: true })
  let after: string | null = null
  try {
    await partial(before)
    const st = statSync(backing)
    assert.is(lines(readFileSync(map, 'utf8')).identity, `ino:${st.dev}:${st.ino}`, 'the map names the file the loop device reads')
    // The same disk again, under another device number, as after a reboot.
    after = await attachLoop(backing, { readOnly: true })
    await detachLoop(before)
    const r = await client.copy({ path: after }, [{ path: dst }], { map }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.map?.sourceNote, undefined)
    assert.ok(cmpFiles(backing, dst))
  } finally {
    await detachLoop(before).catch(() => undefined)
    if (after) await detachLoop(after)
  }
})

test('the same loop device number over another file with the same data: another source, MAP_MISMATCH naming both files', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const first = join(dir, 'first.img')
  const second = join(dir, 'second.img')
  writeRandomFile(first, 8 * MiB, 86)
  copyFileSync(first, second)
  const dev = await attachLoop(first, { readOnly: true })
  let again: string | null = null
  try {
    await partial(dev)
    await detachLoop(dev)
    // The number just freed, over the other file (any free one if another test took it meanwhile).
    again = await attachLoopAt(dev, second)
    await refusesAsync(
      client.copy({ path: again }, [{ path: dst }], { map }).result, 'MAP_MISMATCH',
      /is the map of another source: it is the file with inode \d+ on device \d+:\d+, where the map's source was the file with inode \d+ on device \d+:\d+\. Nothing was written/,
    )
  } finally {
    await detachLoop(dev).catch(() => undefined)
    if (again) await detachLoop(again)
  }
})

/** Attaches `file` read-only to `device` if it is free, else to the first free device. */
async function attachLoopAt(device: string, file: string): Promise<string> {
  const r = spawnSync('losetup', ['-r', device, file], { encoding: 'utf8' })
  return r.status === 0 ? device : attachLoop(file, { readOnly: true })
}

test.run()
