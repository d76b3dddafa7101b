// journal/: the --map file (ddrescue mapfile): reading, writing, resuming from it, and checks that the source and destinations are the same ones.
import fs from 'node:fs'
import nodePath from 'node:path'
import { BlockcopyError, toSystemError } from '../errors.js'
import type { RangeFailure } from '../protocol/protocol.js'
import { fdatasync, followLinks, removeStaleTemps, syncParentDir, writeFileDurably } from '../io/durable.js'
import type { Extent } from '../job.js'
import { stickyRefusal } from '../io/access.js'
import { writeRefusal, type OpenFile } from '../files/regions.js'
import type { IoBackend } from '../io/types.js'
import type { HeldLock } from '../io/lockfile.js'
import { fingerprintOf, storageOfFd } from '../files/storage.js'
import { destMismatch } from './identity.js'
import { judgeSource, mapMismatch, readSample, sampleSpans } from './source-check.js'
import { checkedMap, lockMap, readMapText } from './map-open.js'
import { bytesByStatus, formatMap, freshMap, MAP_HEADER, parseMap, rangesWith, setStatus, type BlockStatus, type RescueMap } from './mapfile.js'
import { systemCode } from '../error-kinds.js'

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
  /**
   * What this run accepted knowingly: a map that had no record of its
   * source (src/journal/source-check.ts), or a mismatch of its source or
   * destinations resumed with `force` ('forced: ...'). Absent when nothing was.
   */
  sourceNote?: string
}

/** How a map is opened: the copy it is for, and what the run may accept. */
export interface MapOpenOptions {
  retryBad: boolean
  commandLine: string
  intervalMs: number
  /** Resume a map whose source does not match (MAP_MISMATCH otherwise). */
  force: boolean
  /** flock LOCK_EX | LOCK_NB on a descriptor (the addon's); without it the map is not locked, and a warning says so. */
  tryLock?: (fd: number) => boolean
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
  /** What this run accepted knowingly (MapSummary.sourceNote). */
  private readonly notes: string[] = []
  /** No map existed: this run starts it. */
  private isNew = false
  /** The job's open source, once checkSource has looked at it. */
  private source: OpenFile | null = null

  private constructor(
    path: string, map: RescueMap, private readonly range: { offset: number; length: number },
    private readonly o: MapOpenOptions, private lock: HeldLock | null,
  ) {
    this.path = path
    this.map = map
    this.pending = rangesWith(map, todo(o.retryBad))
    this.resumedBytes = bytesByStatus(map)['+']
  }

  /**
   * Reads the map at `path` (or starts a new one) for a copy of source bytes
   * [offset, offset + length) of a source of `sourceSize` bytes, after
   * taking its lock (`path`.lock, held until release()). Nothing else is
   * written here. A map for another range or destination offsets, or a
   * damaged one, is INVALID_ARGUMENT naming it; one for a source of another
   * size, or with bytes done in destinations other than these
   * (`destFingerprints`: each one's, null for one that does not exist yet),
   * is MAP_MISMATCH (unless `force`); one another run holds, INVALID_ARGUMENT.
   */
  static open(
    path: string,
    range: { offset: number; length: number; sourceSize: number; destOffsets: number[]; destFingerprints?: ReadonlyArray<string | null> },
    o: MapOpenOptions,
  ): MapJournal {
    if (typeof path !== 'string' || path.length === 0) throw new BlockcopyError('INVALID_ARGUMENT', 'map: must be a file path', 'map')
    // A symlink is followed: the map it names is the one saved over, not the link.
    path = followLinks(path)
    // Saved by writing a file beside it and renaming it over: its directory must take both.
    const dir = nodePath.dirname(nodePath.resolve(path))
    if (!fs.existsSync(dir)) throw new BlockcopyError('NOT_FOUND_VOLUME', `map: the directory of ${path} does not exist`, 'map')
    const refused = writeRefusal(dir)
    if (refused) throw new BlockcopyError('INVALID_ARGUMENT', `map: ${path} is saved by writing in ${dir}, which cannot be written (${refused.code})`, 'map')
    const sticky = stickyRefusal(path)
    if (sticky) throw new BlockcopyError('INVALID_ARGUMENT', `map: ${path} is saved by renaming a new file over it, but ${sticky}`, 'map')
    const lock = lockMap(path, o.tryLock)
    try {
      const text = readMapText(path)
      if (text === null) {
        if (o.retryBad) throw new BlockcopyError('INVALID_ARGUMENT', `retryBad: needs an existing map with bad blocks; ${path} does not exist`, 'retryBad')
        const journal = new MapJournal(path, freshMap(range.offset, range.length, range.sourceSize, range.destOffsets), range, { ...o, retryBad: false }, lock)
        journal.isNew = true
        return journal
      }
      const map = parseMap(text, path)
      const journal = new MapJournal(path, checkedMap(map, path, range), range, o, lock)
      if (map.sourceSize !== null && map.sourceSize !== range.sourceSize) {
        const why = `it was made for a source of ${map.sourceSize} bytes; this source has ${range.sourceSize}`
        if (!o.force) throw mapMismatch(path, why)
        journal.notes.push(`forced: ${why}`)
      }
      const dests = range.destFingerprints ? destMismatch(map.destIdentity, range.destFingerprints, journal.resumedBytes) : null
      if (dests !== null) {
        if (!o.force) throw mapMismatch(path, dests, 'the map of a copy into other destinations')
        journal.notes.push(`forced: ${dests}`)
      }
      map.sourceSize = range.sourceSize
      map.destOffsets = range.destOffsets
      return journal
    } catch (err) {
      lock?.release()
      throw err
    }
  }

  /**
   * Before the first write: reads the blocks the map sampled of its source
   * (or samples them, for a new map or one without any) from the job's open
   * source and judges whether the map is this source's
   * (src/journal/source-check.ts). MAP_MISMATCH if not, unless forced;
   * then the map records this source, and is saved so by start().
   */
  async checkSource(io: IoBackend, source: OpenFile): Promise<void> {
    this.source = source
    const recorded = { identity: this.map.sourceIdentity, mtimeNs: this.map.sourceMtimeNs, sample: this.map.sourceSample }
    const spans = recorded.sample ?? sampleSpans(this.range.offset, this.range.length)
    // From the open descriptor: the file this run reads, whatever its path names meanwhile.
    const storage = storageOfFd(source.fd, source.path)
    const now = { identity: fingerprintOf(storage), mtimeNs: storage.mtimeNs, sample: await readSample(io, source, spans) }
    // A new map has nothing to judge: it records this source.
    const verdict = this.isNew ? { same: true as const, record: now, note: null } : judgeSource(recorded, now)
    if (!verdict.same) {
      if (!this.o.force) throw mapMismatch(this.path, verdict.why)
      this.notes.push(`forced: ${verdict.why}`)
    }
    const record = verdict.same ? verdict.record : now
    if (verdict.same && verdict.note) this.notes.push(verdict.note)
    this.map.sourceIdentity = record.identity
    this.map.sourceMtimeNs = record.mtimeNs
    this.map.sourceSample = record.sample
  }

  /** Lets go of the map's lock and removes the lock file; after the last save, or when the job never started. Never throws. */
  release(): void {
    this.lock?.release()
    this.lock = null
  }

  /** Bytes the map says are done ('+'), which a destination must already hold. */
  get doneEnd(): number {
    return rangesWith(this.map, ['+']).reduce((e, r) => Math.max(e, r.pos + r.size), 0)
  }

  /** The map's bad blocks ('-'), absolute source ranges. */
  badRanges(): Array<{ pos: number; size: number }> {
    return rangesWith(this.map, ['-'])
  }

  /** Saves the map as it is (before the first write), with the destinations it is written for, then every interval. */
  async start(dests: OpenFile[]): Promise<void> {
    this.dests = dests
    const storages = dests.map((d) => storageOfFd(d.fd, d.path))
    this.map.destIdentity = storages.length > 0 ? storages.map(fingerprintOf) : null
    // A run killed while saving left its temporary file behind: only such a file goes, never one this job reads or writes.
    const jobFiles = [...storages, ...(this.source ? [storageOfFd(this.source.fd, this.source.path)] : [])]
    removeStaleTemps(this.path, MAP_HEADER, new Set(jobFiles.map((st) => st.identity)))
    this.map.currentStatus = '?'
    await this.save()
    this.timer = setInterval(() => void this.flush(), this.o.intervalMs)
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
          this.requeue(batch)
        } else {
          for (const r of batch) setStatus(this.map, r.pos, r.size, '+')
          this.map.currentPos = batch[batch.length - 1]?.pos ?? this.map.currentPos
        }
        await this.save()
      } catch {
        // The map itself could not be saved: its bytes stay pending, and the final save says whether it caught up.
        this.requeue(batch)
      } finally {
        this.saving = null
      }
    })()
    return this.saving
  }

  /**
   * A batch that did not become '+' goes back before what was copied since.
   * Not a spread into push: a batch holds every chunk of an interval (of up
   * to a minute), more than a call takes arguments.
   */
  private requeue(batch: Array<{ pos: number; size: number }>): void {
    this.unsynced = batch.concat(this.unsynced)
  }

  private syncFailed(i: number, d: OpenFile, err: unknown): void {
    const e = toSystemError(err, 'fdatasync', d.path)
    this.syncFailures.push({
      dest: i, offset: 0, length: 0, code: systemCode(e), errno: e.errno, syscall: e.syscall,
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
      ...(this.notes.length > 0 ? { sourceNote: this.notes.join('; ') } : {}),
    }
  }

  private save(): Promise<void> {
    return writeFileDurably(this.path, formatMap(this.map, this.o.commandLine, this.started))
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
