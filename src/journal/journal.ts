import fs from 'node:fs'
import nodePath from 'node:path'
import { BlockcopyError, toSystemError } from '../errors.js'
import type { RangeFailure } from '../protocol.js'
import { fdatasync, followLinks, removeStaleTemps, syncParentDir, writeFileDurably } from '../io/durable.js'
import type { Extent } from '../job.js'
import { writeRefusal, type OpenFile } from '../regions.js'
import { quoted } from '../quote.js'
import { bytesByStatus, formatMap, freshMap, parseMap, rangesWith, setStatus, type BlockStatus, type RescueMap } from './mapfile.js'

/**
 * A copy's resume map (ddrescue's mapfile, src/journal/mapfile.ts), kept
 * durable while the copy runs. A chunk becomes '+' in the saved map only
 * after every destination has been fdatasynced since it was written: a map
 * on disk never claims bytes a crash could lose. Saves (temporary file,
 * fsync, rename) happen every `intervalMs` while chunks finish, and once
 * more at the end, after the job's own sync. Bytes a killed run copied
 * again on restart: at most those in flight plus one interval's worth.
 */

/** What the result says of the map. */
export interface MapSummary {
  path: string
  /** Bytes the map had as '+' when the job started: not copied again. */
  resumedBytes: number
  /** Bytes per status in the map as saved at the end. */
  rescuedBytes: number
  badBytes: number
  /** Non-tried, non-trimmed or non-scraped bytes left: a later run copies them. */
  pendingBytes: number
  /**
   * Set when the last save failed: the map on disk is behind what the
   * destinations hold (never ahead: a later run copies some bytes again).
   * The byte counts above are of the map as it would have been saved.
   */
  saveError?: { code: string; message: string }
}

/** Statuses a run copies: everything not done, bad blocks only when retried. */
function todo(retryBad: boolean): BlockStatus[] {
  return retryBad ? ['-'] : ['?', '*', '/']
}

export class MapJournal {
  readonly path: string
  readonly map: RescueMap
  /** Range-relative extents this run copies (pending ranges cut on the chunk grid by the caller). */
  readonly pending: Array<{ pos: number; size: number }>
  readonly resumedBytes: number
  private readonly started = new Date()
  private unsynced: Array<{ pos: number; size: number }> = []
  private timer: NodeJS.Timeout | null = null
  private saving: Promise<void> | null = null
  private dests: OpenFile[] = []
  /** Destinations whose fdatasync failed in a periodic save. */
  private readonly syncFailures: RangeFailure[] = []
  /** Changed since the last save (bad blocks are marked at once, without a sync). */
  private dirty = false

  private constructor(path: string, map: RescueMap, retryBad: boolean, private readonly commandLine: string, private readonly intervalMs: number) {
    this.path = path
    this.map = map
    this.pending = rangesWith(map, todo(retryBad))
    this.resumedBytes = bytesByStatus(map)['+']
  }

  /**
   * Reads the map at `path` (or starts a new one) for a copy of source bytes
   * [offset, offset + length) of a source of `sourceSize` bytes. Nothing is
   * written here. A map for another range or source size, or a damaged one,
   * is INVALID_ARGUMENT naming it.
   */
  static open(
    path: string, range: { offset: number; length: number; sourceSize: number; destOffsets: number[] },
    o: { retryBad: boolean; commandLine: string; intervalMs: number },
  ): MapJournal {
    if (typeof path !== 'string' || path.length === 0) throw new BlockcopyError('INVALID_ARGUMENT', 'map: must be a file path', 'map')
    // A symlink is followed: the map it names is the one saved over, not the link.
    path = followLinks(path)
    const text = readMapText(path)
    if (text === null && !fs.existsSync(nodePath.dirname(nodePath.resolve(path)))) {
      throw new BlockcopyError('NOT_FOUND_VOLUME', `map: the directory of ${path} does not exist`, 'map')
    }
    // Saved by writing a file beside it and renaming it over: its directory must take both.
    const dir = nodePath.dirname(nodePath.resolve(path))
    const refused = writeRefusal(dir)
    if (refused) throw new BlockcopyError('INVALID_ARGUMENT', `map: ${path} is saved by writing in ${dir}, which cannot be written (${refused.code})`, 'map')
    if (text === null) {
      if (o.retryBad) throw new BlockcopyError('INVALID_ARGUMENT', `retryBad: needs an existing map with bad blocks; ${path} does not exist`, 'retryBad')
      return new MapJournal(path, freshMap(range.offset, range.length, range.sourceSize, range.destOffsets), false, o.commandLine, o.intervalMs)
    }
    const map = parseMap(text, path)
    const first = map.blocks[0]
    const last = map.blocks[map.blocks.length - 1]
    const start = first?.pos ?? range.offset
    const end = last ? last.pos + last.size : range.offset
    if (start !== range.offset || end !== range.offset + range.length) {
      throw new BlockcopyError('INVALID_ARGUMENT', `map: ${path} covers source bytes ${start}..${end}, but this copy is of bytes ${range.offset}..${range.offset + range.length}: it is the map of another copy`, 'map')
    }
    if (map.sourceSize !== null && map.sourceSize !== range.sourceSize) {
      throw new BlockcopyError('INVALID_ARGUMENT', `map: ${path} was made for a source of ${map.sourceSize} bytes; this source has ${range.sourceSize}: it is the map of another copy`, 'map')
    }
    if (map.destOffsets !== null && map.destOffsets.join(' ') !== range.destOffsets.join(' ')) {
      throw new BlockcopyError(
        'INVALID_ARGUMENT',
        `map: ${path} was made for ${map.destOffsets.length} destination(s) at offsets ${map.destOffsets.join(', ')}; this copy writes ${range.destOffsets.length} at ${range.destOffsets.join(', ')}: the bytes it records as done are not where this copy would look (give the same destinations, or remove the map to start over)`,
        'map',
      )
    }
    map.sourceSize = range.sourceSize
    map.destOffsets = range.destOffsets
    return new MapJournal(path, map, o.retryBad, o.commandLine, o.intervalMs)
  }

  /** Bytes the map says are done ('+'), which a destination must already hold. */
  get doneEnd(): number {
    return rangesWith(this.map, ['+']).reduce((e, r) => Math.max(e, r.pos + r.size), 0)
  }

  /** The map's bad blocks ('-'), absolute source ranges. */
  badRanges(): Array<{ pos: number; size: number }> {
    return rangesWith(this.map, ['-'])
  }

  /** Saves the map as it is (before the first write), then every interval. */
  async start(dests: OpenFile[]): Promise<void> {
    this.dests = dests
    // A run killed while saving left its temporary file behind.
    removeStaleTemps(this.path)
    this.map.currentStatus = '?'
    await this.save()
    this.timer = setInterval(() => void this.flush(), this.intervalMs)
    this.timer.unref()
  }

  /** A chunk's source range reached every destination (not yet durable). */
  copied(pos: number, size: number): void {
    this.unsynced.push({ pos, size })
  }

  /** Source bytes that could not be read, at the logical block: '-' at once (nothing to sync). */
  badBlock(pos: number, size: number): void {
    setStatus(this.map, pos, size, '-')
    this.dirty = true
  }

  /** A chunk whose read failed and was not split into blocks: '*' (non-trimmed). */
  readFailed(pos: number, size: number): void {
    setStatus(this.map, pos, size, '*')
    this.dirty = true
  }

  /** Syncs the destinations, then saves what was copied before the sync as '+'. */
  private flush(): Promise<void> {
    if (this.saving) return this.saving
    if (this.unsynced.length === 0 && !this.dirty) return Promise.resolve()
    this.dirty = false
    const batch = this.unsynced
    this.unsynced = []
    this.saving = (async () => {
      try {
        if (batch.length > 0 && this.syncFailures.length === 0) {
          await Promise.all(this.dests.map(async (d, i) => {
            try {
              await fdatasync(d.fd)
              if (d.created) await syncParentDir(d.path)
            } catch (err) {
              this.syncFailed(i, d, err)
            }
          }))
        }
        // After a failed sync nothing this run wrote is '+': Linux reports a
        // lost writeback once, so a later sync that succeeds proves nothing.
        if (this.syncFailures.length > 0) {
          this.unsynced.push(...batch)
        } else {
          for (const r of batch) setStatus(this.map, r.pos, r.size, '+')
          this.map.currentPos = batch[batch.length - 1]?.pos ?? this.map.currentPos
        }
        await this.save()
      } catch {
        // The map itself could not be saved: its bytes stay pending, and the final save says whether it caught up.
        this.unsynced.push(...batch)
      } finally {
        this.saving = null
      }
    })()
    return this.saving
  }

  private syncFailed(i: number, d: OpenFile, err: unknown): void {
    const e = toSystemError(err, 'fdatasync', d.path)
    this.syncFailures.push({
      dest: i, offset: 0, length: 0, code: e.code, errno: e.errno, syscall: e.syscall,
      message: `${e.message} (while saving the map: nothing this run wrote to ${d.path} is recorded as done)`,
    })
  }

  /**
   * Stops the periodic saves, waiting for one under way, before the job
   * closes its files. Returns the destinations whose sync failed in a
   * periodic save (offset and length 0: the job fills in its range), so the
   * job reports them even if its own final sync then succeeds.
   */
  async stop(): Promise<RangeFailure[]> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    if (this.saving) await this.saving
    return this.syncFailures
  }

  /**
   * After the job's own sync: what it copied becomes '+' if every sync
   * succeeded (`synced`, and none in a periodic save), and the map is saved
   * one last time. A failure of that save is in the summary (saveError);
   * one of an earlier save no longer matters once the last one succeeded.
   */
  async finish(synced: boolean): Promise<MapSummary> {
    await this.stop()
    if (synced && this.syncFailures.length === 0) {
      for (const r of this.unsynced) setStatus(this.map, r.pos, r.size, '+')
      this.unsynced = []
    }
    const by = bytesByStatus(this.map)
    this.map.currentStatus = by['?'] + by['*'] + by['/'] === 0 ? '+' : '?'
    let saveError: MapSummary['saveError']
    try {
      await this.save()
    } catch (err) {
      const e = toSystemError(err, 'write', this.path)
      saveError = { code: e.code, message: e.message }
    }
    return {
      path: this.path, resumedBytes: this.resumedBytes, rescuedBytes: by['+'], badBytes: by['-'], pendingBytes: by['?'] + by['*'] + by['/'],
      ...(saveError ? { saveError } : {}),
    }
  }

  private save(): Promise<void> {
    return writeFileDurably(this.path, formatMap(this.map, this.commandLine, this.started))
  }
}

/** Bytes of a map looked at before the rest is read: a mapfile is text, so a NUL among them means a data file. */
const SNIFF_BYTES = 64 * 1024

/**
 * The map's text, or null when there is none yet. A data file given as the
 * map by mistake (a disk image, say) is refused from its first bytes,
 * without reading the rest of it, and shown only as a short quoted start.
 */
function readMapText(path: string): string | null {
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

/** Cuts source ranges (absolute) at the chunk grid of a copy starting at `offset`: range-relative extents. */
export function cutOnGrid(ranges: Array<{ pos: number; size: number }>, offset: number, chunkBytes: number): Extent[] {
  const out: Extent[] = []
  for (const r of ranges) {
    let at = r.pos
    const end = r.pos + r.size
    while (at < end) {
      const next = Math.min(end, (Math.floor(at / chunkBytes) + 1) * chunkBytes)
      out.push({ offset: at - offset, length: next - at })
      at = next
    }
  }
  return out
}
