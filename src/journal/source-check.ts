import fs from 'node:fs'
import { promisify } from 'node:util'
import { BlockcopyError } from '../errors.js'
import { alignDown, alignUp } from '../io/align.js'
import type { IoBackend } from '../io/types.js'
import { PAGE_BYTES, type OpenFile } from '../regions.js'
import { createHasher } from '../verify/xxh3.js'
import type { SampleBlock } from './mapfile.js'

/*
 * Does a resume map belong to this source? A map records, as comment lines
 * ddrescue ignores, the source's identity (device and inode, or st_rdev for
 * a block device) and the xxh3-64 of a few blocks of the copy's range read
 * at its first run. A resumed run reads those blocks again:
 *
 * - a sampled block that differs: another source, or this one changed since
 *   (its bytes the map calls done were copied from other data) → refused;
 * - another identity, but every block readable both times matches: the same
 *   data under another name (a file copied or restored from a backup, a disk
 *   renumbered after a reboot, /dev/sdb now /dev/sdc) → resumed, and said;
 * - another identity and no block readable both times: nothing shows it is
 *   the same data → refused;
 * - a block unreadable at either run (a bad sector, a dying disk) proves
 *   nothing either way and is left out: it never makes a rescue fail.
 *
 * A map without these lines (an older blockcopy's, or ddrescue's) is
 * resumed as before, and records this run's source from then on. `force`
 * resumes a map refused here, and records this run's source in it.
 */

/** Blocks sampled in a copy's range, and the size of each. */
export const SAMPLE_BLOCKS = 8
export const SAMPLE_BYTES = 4096

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

/** An identity as people read it: `the block device 8:16`, `the file with inode 1234 on device 8:1`. */
export function describeIdentity(id: string): string {
  // glibc's major() and minor() of a dev_t, in arithmetic that stays exact past 2^32.
  const devNo = (n: number) => `${(Math.floor(n / 2 ** 8) % 2 ** 12) + Math.floor(n / 2 ** 44) * 2 ** 12}:${(n % 2 ** 8) + (Math.floor(n / 2 ** 20) % 2 ** 24) * 2 ** 8}`
  const dev = /^dev:(\d+)$/.exec(id)
  if (dev) return `the block device ${devNo(Number(dev[1]))}`
  const ino = /^ino:(\d+):(\d+)$/.exec(id)
  return ino ? `the file with inode ${ino[2]} on device ${devNo(Number(ino[1]))}` : id
}

/** What the map recorded of its source, and what this run's source is. */
export interface SourceFacts {
  identity: string | null
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
export function judgeSource(recorded: SourceFacts, now: { identity: string; sample: SampleBlock[] }): SourceVerdict {
  if (recorded.identity === null && recorded.sample === null) {
    return { same: true, record: now, note: 'the map had no record of its source (an older blockcopy\'s, or ddrescue\'s): this source is recorded in it from now on' }
  }
  const sample = recorded.sample ?? []
  const both = sample.flatMap((b, i) => {
    const d = now.sample[i]?.digest ?? null
    return b.digest !== null && d !== null ? [{ block: b, now: d }] : []
  })
  const differing = both.filter((x) => x.block.digest !== x.now)
  const sameId = recorded.identity === null || recorded.identity === now.identity
  const was = recorded.identity === null ? 'unrecorded' : describeIdentity(recorded.identity)
  const is = describeIdentity(now.identity)
  if (differing.length > 0) {
    const first = differing[0]?.block as SampleBlock
    const where = `source bytes ${first.pos}..${first.pos + first.size}${differing.length > 1 ? ` and ${differing.length - 1} more` : ''}`
    const who = sameId ? `though it is still ${is}: its bytes changed since the map was started` : `and it is ${is}, where the map's source was ${was}`
    return { same: false, now, why: `${differing.length} of the ${sample.length} blocks sampled at its first run read differently now (${where}), ${who}` }
  }
  if (!sameId && both.length === 0) {
    return { same: false, now, why: `it is ${is}, where the map's source was ${was}, and none of the ${sample.length} blocks sampled at its first run could be read both then and now to show it holds the same data` }
  }
  // What stays known: a block unreadable at the first run and readable now is recorded now; one readable then keeps its digest.
  const record = { identity: now.identity, sample: sample.map((b, i) => ({ ...b, digest: b.digest ?? now.sample[i]?.digest ?? null })) }
  const note = sameId ? null
    : `the source is ${is}, where the map's source was ${was} (copied, restored, or renumbered after a reboot); its ${both.length} sampled blocks readable both times match, so it is taken as the same source`
  return { same: true, record, note }
}

/** MAP_MISMATCH for the map at `path`: nothing has been written. */
export function mapMismatch(path: string, why: string): BlockcopyError {
  return new BlockcopyError(
    'MAP_MISMATCH',
    `map: ${path} is the map of another source: ${why}. Nothing was written; remove the map to start over, or give \`force\` to resume it anyway`,
    'map',
  )
}
