import fs from 'node:fs'
import { promisify } from 'node:util'
import { BlockcopyError } from '../errors.js'
import { alignDown, alignUp } from '../io/align.js'
import type { IoBackend } from '../io/types.js'
import { PAGE_BYTES, type OpenFile } from '../files/regions.js'
import { createHasher } from '../hash/xxh3.js'
import { describeFingerprint, describeMtime } from './identity.js'
import { MAX_SAMPLE_BLOCKS, MAX_SAMPLE_BYTES, type SampleBlock } from './mapfile.js'

/*
 * Does a resume map belong to this source? A map records, as comment lines
 * ddrescue ignores, the source's fingerprint (src/journal/identity.ts: the
 * storage it is read from, by what names it across renumbering and
 * reboots), its modification time when that storage is a regular file, and
 * the xxh3-64 of a few blocks of the copy's range read at its first run. A
 * resumed run takes them again from its open source, and refuses
 * (MAP_MISMATCH) a source where any of them differs, naming what:
 *
 * - another fingerprint: another file or disk, even one whose sampled
 *   blocks match (two disks cloned from one template, a copy of the file,
 *   the same /dev/loopN over another file);
 * - another modification time: the file was written since the map was
 *   started, perhaps outside the sampled blocks;
 * - a sampled block that reads differently: the data changed.
 *
 * A block unreadable at either run (a bad sector, a dying disk) proves
 * nothing either way and is left out: it never makes a rescue fail. The
 * same disk under another name (renumbered after a reboot, /dev/sdb now
 * /dev/sdc) has the same fingerprint where sysfs gives its WWID or serial,
 * and a loop device is named by its file, so it resumes.
 *
 * A map without these lines (an older blockcopy's, or ddrescue's) is
 * resumed as before, with a note, and records this run's source from then
 * on; one without the mtime line has its mtime recorded now. `force`
 * resumes a map refused here, and records this run's source in it.
 */

/** Blocks sampled in a copy's range, and the size of each. */
export const SAMPLE_BLOCKS = MAX_SAMPLE_BLOCKS
export const SAMPLE_BYTES = MAX_SAMPLE_BYTES

/** Where the sample blocks of the range [offset, offset + length) are: the first, the last, and evenly between. */
export function sampleSpans(offset: number, length: number): Array<{ pos: number; size: number }> {
  if (length === 0) return []
  const size = Math.min(SAMPLE_BYTES, length)
  const count = Math.min(SAMPLE_BLOCKS, Math.floor(length / size))
  if (count === 1) return [{ pos: offset, size }]
  // Spaced at least `size` apart, so no two overlap; the last ends where the range does.
  return Array.from({ length: count }, (_, i) => ({ pos: offset + Math.floor((i * (length - size)) / (count - 1)), size }))
}

const read = promisify(fs.read)

/**
 * Reads [pos, pos + size) of the job's open source, or null if it cannot
 * (any error, or the source ends first). A block device is read with
 * O_DIRECT in whole alignment blocks, never from its page cache, which
 * goes stale when the device changes beneath this host.
 */
async function readBlock(io: IoBackend, f: OpenFile, pos: number, size: number): Promise<Buffer | null> {
  const direct = f.uncachedEdges && f.directFd >= 0 && f.alignBytes > 0
  const start = direct ? alignDown(pos, f.alignBytes) : pos
  const want = (direct ? alignUp(pos + size, f.alignBytes) : pos + size) - start
  const buf = direct ? io.allocAligned(want, PAGE_BYTES) : Buffer.alloc(want)
  let done = 0
  try {
    while (done < want) {
      const { bytesRead } = await read(direct ? f.directFd : f.fd, buf, done, want - done, start + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
  } catch {
    return null
  }
  return start + done < pos + size ? null : buf.subarray(pos - start, pos - start + size)
}

/** The sampled blocks of the source as they read now: each block's xxh3-64, null where it cannot be read. */
export async function readSample(io: IoBackend, source: OpenFile, spans: ReadonlyArray<{ pos: number; size: number }>): Promise<SampleBlock[]> {
  const hasher = await createHasher('xxh3')
  const out: SampleBlock[] = []
  for (const s of spans) {
    const bytes = await readBlock(io, source, s.pos, s.size)
    let digest: string | null = null
    if (bytes) {
      hasher.init()
      hasher.update(bytes)
      digest = hasher.digest('hex')
    }
    out.push({ pos: s.pos, size: s.size, digest })
  }
  return out
}

/** What the map recorded of its source, and what this run's source is. */
export interface SourceFacts {
  identity: string | null
  mtimeNs: bigint | null
  sample: SampleBlock[] | null
}

/** The judgement: a refusal (why), or what to record now and a note for the result. */
export type SourceVerdict =
  | { same: false; why: string; now: SourceFacts }
  | { same: true; record: SourceFacts; note: string | null }

/**
 * Compares the map's record of its source with this run's source, as the
 * header of this file says. `now.sample` was read at the map's own sample
 * positions (or at sampleSpans for a map without any).
 */
export function judgeSource(recorded: SourceFacts, now: { identity: string; mtimeNs: bigint | null; sample: SampleBlock[] }): SourceVerdict {
  if (recorded.identity === null && recorded.sample === null) {
    return { same: true, record: now, note: 'the map had no record of its source (an older blockcopy\'s, or ddrescue\'s): this source is recorded in it from now on' }
  }
  // What differs, the data first: the strongest evidence leads the message.
  const why: string[] = []
  const sameId = recorded.identity === null || recorded.identity === now.identity
  const sample = recorded.sample ?? []
  const both = sample.flatMap((b, i) => {
    const d = now.sample[i]?.digest ?? null
    return b.digest !== null && d !== null ? [{ block: b, now: d }] : []
  })
  const differing = both.filter((x) => x.block.digest !== x.now)
  if (differing.length > 0) {
    const first = differing[0]?.block as SampleBlock
    const where = `source bytes ${first.pos}..${first.pos + first.size}${differing.length > 1 ? ` and ${differing.length - 1} more` : ''}`
    why.push(`${differing.length} of the ${sample.length} blocks sampled at its first run read differently now (${where})${sameId ? `, though it is still ${describeFingerprint(now.identity)}` : ''}`)
  }
  if (!sameId) why.push(`it is ${describeFingerprint(now.identity)}, where the map's source was ${describeFingerprint(recorded.identity as string)}`)
  if (sameId && recorded.mtimeNs !== null && now.mtimeNs !== null && recorded.mtimeNs !== now.mtimeNs) {
    why.push(`it was modified since the map was started (modification time ${describeMtime(recorded.mtimeNs)} then, ${describeMtime(now.mtimeNs)} now), so bytes the map calls done may differ from it`)
  }
  if (why.length > 0) return { same: false, now, why: why.join('; ') }
  // What stays known: a block unreadable at the first run and readable now is recorded now; one readable then keeps its digest.
  const record = { identity: now.identity, mtimeNs: now.mtimeNs, sample: sample.map((b, i) => ({ ...b, digest: b.digest ?? now.sample[i]?.digest ?? null })) }
  return { same: true, record, note: null }
}

/** MAP_MISMATCH for the map at `path`: nothing has been written. `what` says whose it is: 'the map of another source'. */
export function mapMismatch(path: string, why: string, what = 'the map of another source'): BlockcopyError {
  return new BlockcopyError(
    'MAP_MISMATCH',
    `map: ${path} is ${what}: ${why}. Nothing was written; remove the map to start over, or give \`force\` to resume it anyway`,
    'map',
  )
}
