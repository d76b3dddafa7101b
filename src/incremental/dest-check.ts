import type { CopyResult, Extent } from '../job.js'
import { buildManifest, chunkDigest, isUnknown, type Manifest } from '../hash/manifest.js'
import { mismatch, type SinceOptions } from './since.js'

/**
 * `checkDest` (`copy --since M --check-dest`): for users who cannot trust
 * the manifest, the whole destination is hashed in the manifest's chunks
 * (a hash job through the workers, O_DIRECT where possible) before anything
 * is written, instead of the sample check.
 *
 * Every chunk not as the manifest records (an unreadable one included) is
 * a mismatch, as a sampled one is: refused with MANIFEST_MISMATCH naming
 * the ranges, nothing written. As in the sample check, a chunk that holds
 * what the source holds (an earlier run that failed part-way wrote it) is
 * no mismatch. Forced, the digests just computed become the baseline the
 * source is compared with (Since.baseline), so exactly the chunks where the
 * source differs from what the destination really holds are written, and
 * the result is a true copy.
 */

/** Ranges a refusal lists before "and N more". */
const LISTED_RANGES = 20

/** Digests of the destination's chunks from the hash job of the whole check; null where a chunk could not be read. */
export function destDigests(r: CopyResult, m: Manifest): Array<string | null> {
  const digests: Array<string | null> = new Array<string | null>(m.chunkCount).fill(null)
  for (const c of r.chunks) {
    const i = c.offset / m.chunkBytes
    // A task that failed part-way has digests for its chunks before the failure only.
    if (Number.isInteger(i) && i < m.chunkCount && c.length === Math.min(m.chunkBytes, m.sizeBytes - c.offset)) digests[i] = c.digest
  }
  for (const e of r.errors) {
    // Belt and braces: no chunk an error touched counts as read.
    for (let i = Math.floor(e.offset / m.chunkBytes); i * m.chunkBytes < e.offset + e.length && i < m.chunkCount; i++) digests[i] = null
  }
  return digests
}

/** "bytes a..b, c..d" (end exclusive, as the sample check's message), the first LISTED_RANGES of them. */
function rangesText(ranges: Extent[]): string {
  const shown = ranges.slice(0, LISTED_RANGES).map((e) => `${e.offset}..${e.offset + e.length}`).join(', ')
  return `bytes ${shown}${ranges.length > LISTED_RANGES ? `, and ${ranges.length - LISTED_RANGES} more ranges` : ''}`
}

/** Chunk indexes as coalesced byte ranges of a file of `m`'s chunks. */
function rangesOf(indexes: number[], m: Manifest): Extent[] {
  const out: Extent[] = []
  for (const i of indexes) {
    const offset = i * m.chunkBytes
    const length = Math.min(m.chunkBytes, m.sizeBytes - offset)
    const last = out[out.length - 1]
    if (last && last.offset + last.length === offset) last.length += length
    else out.push({ offset, length })
  }
  return out
}

/** How the check reads single chunks on this thread: of the source, and again of the destination. */
export interface ChunkReaders {
  source: (index: number) => Promise<string>
  dest: (index: number) => Promise<string>
}

/**
 * Judges the destination by its digests (`found`, from destDigests), or
 * null when the check was cancelled (by the copy's signal, so the copy
 * writes nothing either). A hash task stops at its first unreadable chunk,
 * so each chunk it left without a digest is read once more on its own
 * (`read.dest`): only those that fail again are unreadable. `read.source`
 * is asked only for chunks that differ from the manifest, and only without
 * force. Refuses (MANIFEST_MISMATCH) unless forced.
 */
export async function judgeDest(s: SinceOptions, found: Array<string | null> | null, destPath: string, read: ChunkReaders): Promise<void> {
  const m = s.since.manifest
  // Cancelled by the copy's own signal, which then starts no chunk: nothing to judge, and the old manifest still holds.
  if (found === null) return
  s.since.checked.mode = 'whole'
  const differing: number[] = []
  const unreadable: number[] = []
  let code = ''
  for (let i = 0; i < found.length; i++) {
    if (found[i] === null) {
      try {
        found[i] = await read.dest(i)
      } catch (err) {
        code ||= (err as { code?: string }).code ?? 'EIO'
        unreadable.push(i)
      }
    }
    const d = found[i]
    if (d !== null) s.since.checked.found[i] = 1
    // A chunk the manifest does not know is written or compared by what it holds: no mismatch.
    if (d !== chunkDigest(m, i) && !isUnknown(m, i)) differing.push(i)
  }
  s.since.checked.differing = rangesOf(differing, m)
  if (differing.length > 0 && !s.force) {
    // Refused at the first chunk that holds neither the manifest's bytes nor the source's, as the sample check is.
    for (const i of differing) {
      if (found[i] === null || found[i] !== (await read.source(i))) {
        const bad = unreadable.length > 0 ? ` (${rangesText(rangesOf(unreadable, m))} could not be read: ${code})` : ''
        throw mismatch(
          `every chunk of ${destPath} was hashed, and ${differing.length} of ${m.chunkCount} chunks ${differing.length === 1 ? 'is' : 'are'} not as the manifest records: ${rangesText(s.since.checked.differing)}${bad}`,
          '`force` writes the chunks where the source differs from what the destination holds',
        )
      }
    }
  }
  s.since.baseline = await buildManifest(m.algo, m.chunkBytes, m.sizeBytes, found)
  if (differing.length > 0 && s.force) {
    const n = differing.length
    s.since.reason = `${n} chunk${n === 1 ? '' : 's'} of ${destPath} ${n === 1 ? 'was' : 'were'} not as the manifest records (${rangesText(s.since.checked.differing)}); compared with the source by what ${n === 1 ? 'it holds' : 'they hold'}`
  }
}
