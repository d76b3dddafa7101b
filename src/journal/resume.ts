import { BlockcopyError } from '../errors.js'
import { refuseAliases, regionRole, savedFileRoles } from '../files/aliases.js'
import { fingerprintOf } from '../files/storage.js'
import type { CopyFacts } from '../files/open-job.js'
import type { CopyOptions } from '../job-options.js'
import { cutOnGrid, MapJournal } from './journal.js'
import type { CopyResult, Extent } from '../job.js'
import type { RangeFailure } from '../protocol/protocol.js'
import type { IoBackend } from '../io/types.js'

/** The map options of a copy, checked; nothing is read yet. */
export interface MapOptions {
  path: string
  intervalMs: number
  /** Passes over the bad blocks only, or 0 for a normal run. */
  retryBad: number
  /** Resume a map whose source does not match it (MAP_MISMATCH otherwise). */
  force: boolean
}

/** How a copy treats unreadable source blocks, or null when a failed read fails its whole chunk. */
export function badBlockOptions(o: CopyOptions): { tries: number; fill: boolean } | null {
  if (o.fillBad !== undefined && o.fillBad !== 'keep' && o.fillBad !== 'zero') {
    throw new BlockcopyError('INVALID_ARGUMENT', `fillBad: must be 'keep' or 'zero', got ${String(o.fillBad)}`, 'fillBad')
  }
  const retry = o.retryBad ?? 0
  // An incremental copy leaves a chunk it cannot read as it was, marked
  // unknown in its manifest; it does not split bad blocks out of it.
  // (retryBad needs a map, which an incremental copy refuses: mapOptions.)
  if (o.since !== undefined && o.fillBad === 'zero') {
    throw new BlockcopyError('INVALID_ARGUMENT', "fillBad: an incremental copy (`since`) does not split bad blocks out of a chunk, so it cannot zero them; an unreadable chunk stays as it was, marked unknown in the manifest", 'fillBad')
  }
  if (!o.ignoreErrors && retry === 0) {
    if (o.fillBad !== undefined) throw new BlockcopyError('INVALID_ARGUMENT', 'fillBad: only applies with `ignoreErrors` or `retryBad` (bad blocks are only split out then)', 'fillBad')
    return null
  }
  return { tries: Math.max(1, retry), fill: o.fillBad === 'zero' }
}

export function mapOptions(o: CopyOptions): MapOptions | null {
  if (o.mapIntervalMs !== undefined && (!Number.isSafeInteger(o.mapIntervalMs) || o.mapIntervalMs < 50 || o.mapIntervalMs > 60_000)) {
    throw new BlockcopyError('INVALID_ARGUMENT', `mapIntervalMs: must be a whole number of milliseconds from 50 to 60000, got ${String(o.mapIntervalMs)}`, 'mapIntervalMs')
  }
  if (o.retryBad !== undefined && (!Number.isSafeInteger(o.retryBad) || o.retryBad < 1 || o.retryBad > 100)) {
    throw new BlockcopyError('INVALID_ARGUMENT', `retryBad: must be a whole number of passes from 1 to 100, got ${String(o.retryBad)}`, 'retryBad')
  }
  if (o.map === undefined) {
    if (o.mapIntervalMs !== undefined) throw new BlockcopyError('INVALID_ARGUMENT', 'mapIntervalMs: only applies with `map`', 'mapIntervalMs')
    if (o.retryBad !== undefined) throw new BlockcopyError('INVALID_ARGUMENT', 'retryBad: needs the map that recorded the bad blocks (`map`)', 'retryBad')
    return null
  }
  if (typeof o.map !== 'string' || o.map.length === 0) throw new BlockcopyError('INVALID_ARGUMENT', 'map: must be a file path', 'map')
  if (o.since !== undefined) throw new BlockcopyError('INVALID_ARGUMENT', 'map: an incremental copy (`since`) cannot also resume from a map', 'map')
  return { path: o.map, intervalMs: o.mapIntervalMs ?? 1000, retryBad: o.retryBad ?? 0, force: o.force === true }
}

/**
 * The map must be a file of its own: saving it renames a new file over its
 * path, so a map that is the source or a destination (by any name: a hard
 * link, a symlink, or the path of one still to be created) would replace
 * that file, and the copied bytes would go to an inode no name reaches. So
 * must the temporary file it is saved through.
 */
function checkMapIsItsOwn(mapPath: string, c: CopyFacts): void {
  refuseAliases(
    [regionRole('from.path', c.source.path)],
    [...c.dests.map((d, i) => regionRole(`to[${i}].path`, d.facts.path)), ...savedFileRoles('map', mapPath, { lock: true })],
  )
}

/**
 * Reads (or starts) the map once the copy's regions are checked, before any
 * file is opened or created, and checks it against them: a map that has
 * bytes as copied needs destinations that exist and reach that far.
 * Returns the journal and the extents still to copy.
 */
export function openMap(m: MapOptions, c: CopyFacts, chunkBytes: number, io: IoBackend): { journal: MapJournal; extents: Extent[] } {
  checkMapIsItsOwn(m.path, c)
  const destOffsets = c.dests.map((d) => d.offset)
  // Fingerprints of the destinations as they are now (none for one still to be created), for a map with bytes done in them.
  const destFingerprints = c.dests.map((d) => (d.facts.exists ? fingerprintOf(d.facts.storage) : null))
  const journal = MapJournal.open(m.path, { offset: c.srcOffset, length: c.length, sourceSize: c.source.sizeBytes, destOffsets, destFingerprints }, {
    retryBad: m.retryBad > 0, commandLine: process.argv.slice(1).join(' '), intervalMs: m.intervalMs, force: m.force,
    ...(io.tryLock ? { tryLock: io.tryLock.bind(io) } : {}),
  })
  const doneEnd = journal.doneEnd
  try {
    c.dests.forEach((d, i) => {
      const need = d.offset + (doneEnd - c.srcOffset)
      if (doneEnd > 0 && (!d.facts.exists || (!d.facts.isBlockDevice && d.facts.sizeBytes < need))) {
        const has = d.facts.exists ? `has ${d.facts.sizeBytes} bytes` : 'does not exist'
        throw new BlockcopyError(
          'INVALID_ARGUMENT',
          `map: ${m.path} records ${journal.resumedBytes} bytes as copied, up to source byte ${doneEnd}, but to[${i}].path ${d.facts.path} ${has}: it is not the destination this map was made with (remove the map to start over)`,
          'map',
        )
      }
    })
  } catch (err) {
    journal.release()
    throw err
  }
  return { journal, extents: cutOnGrid(journal.pending, c.srcOffset, chunkBytes) }
}

/**
 * Stops the map's periodic saves before the job closes its files, and
 * returns the destinations whose sync failed in one of them (and not in the
 * job's own final sync, `synced`), over their whole range.
 */
export async function journalSyncFailures(journal: MapJournal, synced: RangeFailure[], destOffsets: number[], totalBytes: number): Promise<RangeFailure[]> {
  const out: RangeFailure[] = []
  for (const f of await journal.stop()) {
    if (synced.some((s) => s.dest === f.dest) || out.some((s) => s.dest === f.dest)) continue
    out.push({ ...f, offset: destOffsets[f.dest] ?? 0, length: totalBytes })
  }
  return out
}

/**
 * The map's last save, and what the result says of it: the summary, and the
 * bad blocks an earlier run recorded, which are still missing from the
 * destinations (BAD_BLOCK, so the job is not ok).
 */
export async function finishJournal(journal: MapJournal, result: CopyResult, synced: boolean): Promise<void> {
  const map = await journal.finish(synced)
  result.map = map
  for (const b of journal.badRanges()) {
    if (!result.errors.some((e) => e.dest === -1 && e.offset < b.pos + b.size && b.pos < e.offset + e.length)) {
      result.errors.push({
        dest: -1, offset: b.pos, length: b.size, code: 'BAD_BLOCK', errno: 0, syscall: 'map',
        message: `BAD_BLOCK: source bytes ${b.pos}..${b.pos + b.size} were unreadable in an earlier run (map ${map.path}); retry them with \`retryBad\``,
      })
    }
  }
  if (map.badBytes > 0) {
    result.readErr = true
    result.ok = false
  }
}
