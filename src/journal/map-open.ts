import fs from 'node:fs'
import { BlockcopyError, toSystemError } from '../errors.js'
import { HeldLock, lockPathOf } from '../io/lockfile.js'
import { quoted } from '../quote.js'
import type { RescueMap } from './mapfile.js'

/*
 * A map as a copy opens it, before MapJournal takes it on: locked, read
 * (refusing a data file unread), and checked against the copy's range and
 * destination offsets. Nothing here writes anything but the lock file.
 */

/** Warned once per process: a map that cannot be locked without the addon. */
let warnedNoLock = false

/**
 * Takes the map's lock (`path`.lock, flock): two runs on one map at once
 * would each save only their own chunks as done, and the one saving last
 * would drop the other's. Null without the addon (no flock), said once.
 */
export function lockMap(path: string, tryLock: ((fd: number) => boolean) | undefined): HeldLock | null {
  const lockPath = lockPathOf(path)
  if (!tryLock) {
    if (!warnedNoLock) process.emitWarning(`blockcopy: map ${path} cannot be locked without the native addon; run one copy at a time with it`)
    warnedNoLock = true
    return null
  }
  let lock: HeldLock | null
  try {
    lock = HeldLock.take(lockPath, tryLock)
  } catch (err) {
    throw new BlockcopyError('INVALID_ARGUMENT', `map: its lock file ${lockPath} cannot be used (${toSystemError(err, 'open', lockPath).code})`, 'map')
  }
  if (!lock) throw new BlockcopyError('INVALID_ARGUMENT', `map: ${path} is in use by another copy (${lockPath} is locked): one copy at a time per map`, 'map')
  return lock
}

/** The parsed map, checked against this copy's range and destination offsets: INVALID_ARGUMENT if it is another copy's. */
export function checkedMap(map: RescueMap, path: string, range: { offset: number; length: number; destOffsets: number[] }): RescueMap {
  const first = map.blocks[0]
  const last = map.blocks[map.blocks.length - 1]
  const start = first?.pos ?? range.offset
  const end = last ? last.pos + last.size : range.offset
  if (start !== range.offset || end !== range.offset + range.length) {
    throw new BlockcopyError('INVALID_ARGUMENT', `map: ${path} covers source bytes ${start}..${end}, but this copy is of bytes ${range.offset}..${range.offset + range.length}: it is the map of another copy`, 'map')
  }
  if (map.destOffsets !== null && map.destOffsets.join(' ') !== range.destOffsets.join(' ')) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `map: ${path} was made for ${map.destOffsets.length} destination(s) at offsets ${map.destOffsets.join(', ')}; this copy writes ${range.destOffsets.length} at ${range.destOffsets.join(', ')}: the bytes it records as done are not where this copy would look (give the same destinations, or remove the map to start over)`,
      'map',
    )
  }
  return map
}

/** Bytes of a map looked at before the rest is read: a mapfile is text, so a NUL among them means a data file. */
const SNIFF_BYTES = 64 * 1024

/**
 * The map's text, or null when there is none yet. A data file given as the
 * map by mistake (a disk image, say) is refused from its first bytes,
 * without reading the rest of it, and shown only as a short quoted start.
 */
export function readMapText(path: string): string | null {
  const unreadable = (err: unknown) => new BlockcopyError('INVALID_ARGUMENT', `map: ${path} cannot be read: ${(err as Error).message}`, 'map')
  let fd: number
  try {
    fd = fs.openSync(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw unreadable(err)
  }
  try {
    const head = Buffer.alloc(SNIFF_BYTES)
    let n: number
    try {
      n = fs.readSync(fd, head, 0, SNIFF_BYTES, 0)
    } catch (err) {
      throw unreadable(err)
    }
    const nul = head.subarray(0, n).indexOf(0)
    if (nul >= 0) {
      throw new BlockcopyError('INVALID_ARGUMENT', `map: ${path} is not a ddrescue mapfile but binary data (a NUL byte at byte ${nul}); it begins ${quoted(head.subarray(0, n))}`, 'map')
    }
    try {
      // From the start: the read above was positioned and moved nothing.
      return fs.readFileSync(fd, 'utf8')
    } catch (err) {
      throw unreadable(err)
    }
  } finally {
    fs.closeSync(fd)
  }
}
