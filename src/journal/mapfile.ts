import { BlockcopyError } from '../errors.js'
import { quoted } from '../quote.js'
import { isFingerprint } from './identity.js'

/**
 * GNU ddrescue's mapfile: what was tried and what was rescued, by byte
 * range of the source. blockcopy writes and reads it so that `ddrescuelog`
 * (and ddrescue itself) can read a blockcopy map, and a copy can resume
 * from one. The format (ddrescue manual, "Mapfile structure"):
 *
 *   # comment lines
 *   0x00000000     ?               1          current_pos  current_status  current_pass
 *   #      pos        size  status
 *   0x00000000  0x00100000  +                 one line a block, in order, contiguous
 *
 * Block status: '?' non-tried, '*' failed and not trimmed, '/' not scraped,
 * '-' bad block, '+' finished (rescued). Positions are in the source.
 */
export type BlockStatus = '?' | '*' | '/' | '-' | '+'
const STATUSES = new Set<string>(['?', '*', '/', '-', '+'])
/** ddrescue's current_status adds F (filling) and G (generating) to the block statuses. */
const CURRENT = new Set<string>([...STATUSES, 'F', 'G'])

export interface MapBlock {
  pos: number
  size: number
  status: BlockStatus
}

export interface RescueMap {
  currentPos: number
  /** '?' while copying, '+' when the run finished. */
  currentStatus: string
  currentPass: number
  /** Sorted, contiguous, no two neighbours with the same status. */
  blocks: MapBlock[]
  /** `# blockcopy source-size N`: the size of the source the map was made for, when a blockcopy wrote it. */
  sourceSize: number | null
  /**
   * `# blockcopy dest-offsets A B ...`: where each destination's range
   * starts, when a blockcopy wrote it (maps before 2026-11-30 have none). A
   * resumed copy must write to the same places, or bytes the map calls done
   * would be missing where it now writes.
   */
  destOffsets: number[] | null
  /**
   * `# blockcopy source-identity FINGERPRINT`: the storage the source was
   * read from (src/journal/identity.ts: `ino:DEV:INO` for a file, a loop
   * device's file and offset, a disk's WWID or serial, `dev:RDEV`); null in
   * maps before 2026-12 and ddrescue's.
   */
  sourceIdentity: string | null
  /** `# blockcopy source-mtime NS`: the source's modification time in nanoseconds, when its storage is a regular file. */
  sourceMtimeNs: bigint | null
  /**
   * `# blockcopy source-sample POS:SIZE:DIGEST ...`: a few blocks of the
   * source as the first run read them (src/journal/source-check.ts), each
   * with its xxh3-64, or '-' where it could not be read; null when the map
   * has none.
   */
  sourceSample: SampleBlock[] | null
  /** `# blockcopy dest-identity FINGERPRINT ...`: each destination's storage, in order, as the copy wrote it; null when the map has none. */
  destIdentity: string[] | null
}

/** Most sampled blocks a map may list, and the largest each may be: what blockcopy writes (source-check.ts). */
export const MAX_SAMPLE_BLOCKS = 8
export const MAX_SAMPLE_BYTES = 4096
/** Most destinations a map may list: a copy's most (options.ts MAX_DESTINATIONS). */
const MAX_DEST_IDENTITIES = 8

/** A sampled block of the source: where, and its xxh3-64 in hex, or null where it could not be read. */
export interface SampleBlock {
  pos: number
  size: number
  digest: string | null
}

function bad(path: string, line: number, why: string): BlockcopyError {
  return new BlockcopyError('INVALID_ARGUMENT', `map: ${path} line ${line}: ${why}`, 'map')
}

function parseNumber(s: string | undefined, path: string, line: number, what: string): number {
  // ddrescue writes hex; decimal and octal are what its reader takes too (strtoll base 0).
  const ok = s !== undefined && /^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.test(s)
  const v = ok ? (/^0x/i.test(s) ? parseInt(s.slice(2), 16) : /^0[0-7]+$/.test(s) ? parseInt(s, 8) : Number(s)) : NaN
  if (!Number.isSafeInteger(v) || v < 0) throw bad(path, line, `${what} ${quoted(s ?? '')} is not a whole number of bytes below 2^53`)
  return v
}

/** A fingerprint as src/journal/identity.ts writes it. */
function parseIdentity(s: string, path: string, line: number, what: string): string {
  if (!isFingerprint(s)) throw bad(path, line, `${what} ${quoted(s)} is not ino:DEV:INO, dev:RDEV, wwid:, serial:, dm-uuid: or udev-serial: with an optional +OFFSET`)
  return s
}

/** `POS:SIZE:DIGEST` (decimal bytes, 16 hex digits of xxh3-64 or '-' for a block that could not be read), of at most MAX_SAMPLE_BYTES. */
function parseSampleBlock(s: string, path: string, line: number): SampleBlock {
  const m = /^(\d{1,16}):(\d{1,16}):([0-9a-f]{16}|-)$/.exec(s)
  const pos = Number(m?.[1])
  const size = Number(m?.[2])
  if (!m || !Number.isSafeInteger(pos + size) || size === 0) {
    throw bad(path, line, `source sample block ${quoted(s)} is not POS:SIZE:DIGEST (bytes, and 16 hex digits or -)`)
  }
  if (size > MAX_SAMPLE_BYTES) throw bad(path, line, `source sample block ${quoted(s)} is ${size} bytes; blockcopy samples blocks of at most ${MAX_SAMPLE_BYTES}`)
  return { pos, size, digest: m[3] === '-' ? null : (m[3] as string) }
}

/** A modification time in nanoseconds since 1970, decimal. */
function parseMtime(s: string, path: string, line: number): bigint {
  if (!/^\d{1,20}$/.test(s)) throw bad(path, line, `source mtime ${quoted(s)} is not a whole number of nanoseconds`)
  return BigInt(s)
}

/** Parses a mapfile's text; anything malformed is INVALID_ARGUMENT naming the file, the line and the rule. */
export function parseMap(text: string, path: string): RescueMap {
  const lines = text.split('\n')
  let head: { pos: number; status: string; pass: number } | null = null
  const blocks: MapBlock[] = []
  let sourceSize: number | null = null
  let destOffsets: number[] | null = null
  let sourceIdentity: string | null = null
  let sourceMtimeNs: bigint | null = null
  let sourceSample: SampleBlock[] | null = null
  let sampleLine = 0
  let destIdentity: string[] | null = null
  lines.forEach((raw, i) => {
    const n = i + 1
    const line = raw.trim()
    const size = /^#\s*blockcopy source-size (\S+)/.exec(line)
    if (size) sourceSize = parseNumber(size[1], path, n, 'source size')
    const offsets = /^#\s*blockcopy dest-offsets((?:\s+\S+)+)\s*$/.exec(line)
    if (offsets) destOffsets = (offsets[1] as string).trim().split(/\s+/).map((v) => parseNumber(v, path, n, 'destination offset'))
    const identity = /^#\s*blockcopy source-identity\s+(\S*)\s*$/.exec(line)
    if (identity) sourceIdentity = parseIdentity(identity[1] ?? '', path, n, 'source identity')
    const mtime = /^#\s*blockcopy source-mtime\s+(\S*)\s*$/.exec(line)
    if (mtime) sourceMtimeNs = parseMtime(mtime[1] ?? '', path, n)
    const sample = /^#\s*blockcopy source-sample(\s.*)?$/.exec(line)
    if (sample) {
      const tokens = (sample[1] ?? '').trim().split(/\s+/).filter((t) => t !== '')
      if (tokens.length > MAX_SAMPLE_BLOCKS) throw bad(path, n, `${tokens.length} source sample blocks; blockcopy samples at most ${MAX_SAMPLE_BLOCKS}`)
      sourceSample = tokens.map((t) => parseSampleBlock(t, path, n))
      sampleLine = n
    }
    const dests = /^#\s*blockcopy dest-identity(\s.*)?$/.exec(line)
    if (dests) {
      const tokens = (dests[1] ?? '').trim().split(/\s+/).filter((t) => t !== '')
      if (tokens.length === 0 || tokens.length > MAX_DEST_IDENTITIES) throw bad(path, n, `${tokens.length} destination identities; a copy has 1 to ${MAX_DEST_IDENTITIES}`)
      destIdentity = tokens.map((t) => parseIdentity(t, path, n, 'destination identity'))
    }
    if (line === '' || line.startsWith('#')) return
    const f = line.split(/\s+/)
    if (!head) {
      const status = f[1] ?? ''
      if (!CURRENT.has(status)) throw bad(path, n, `current status ${quoted(status)} is not one of ? * / - F G +`)
      head = { pos: parseNumber(f[0], path, n, 'current position'), status, pass: f[2] === undefined ? 1 : parseNumber(f[2], path, n, 'current pass') }
      return
    }
    const status = f[2] ?? ''
    if (!STATUSES.has(status)) throw bad(path, n, `block status ${quoted(status)} is not one of ? * / - +`)
    const b = { pos: parseNumber(f[0], path, n, 'position'), size: parseNumber(f[1], path, n, 'size'), status: status as BlockStatus }
    if (b.size === 0) throw bad(path, n, 'a block of size 0')
    const last = blocks[blocks.length - 1]
    if (last && b.pos !== last.pos + last.size) {
      throw bad(path, n, `block at ${b.pos} does not start where the one before ends (${last.pos + last.size}): blocks must be in order and contiguous`)
    }
    if (!Number.isSafeInteger(b.pos + b.size)) throw bad(path, n, 'block ends past 2^53')
    blocks.push(b)
  })
  if (!head) throw bad(path, lines.length, 'no current_pos / current_status line: not a ddrescue mapfile')
  const h = head as { pos: number; status: string; pass: number }
  checkSampleInside(sourceSample, blocks, path, sampleLine)
  return {
    currentPos: h.pos, currentStatus: h.status, currentPass: h.pass, blocks: merged(blocks), sourceSize, destOffsets,
    sourceIdentity, sourceMtimeNs, sourceSample, destIdentity,
  }
}

/** Every sampled block lies inside the map's blocks: the copy's range of the source, where the first run took it. */
function checkSampleInside(sample: SampleBlock[] | null, blocks: MapBlock[], path: string, line: number): void {
  const start = blocks[0]?.pos ?? 0
  const last = blocks[blocks.length - 1]
  const end = last ? last.pos + last.size : 0
  const outside = sample?.find((b) => b.pos < start || b.pos + b.size > end)
  if (outside) {
    throw bad(path, line, `source sample block ${outside.pos}:${outside.size} is not inside the source bytes ${start}..${end} the map covers`)
  }
}

const hex = (v: number) => `0x${v.toString(16).toUpperCase().padStart(8, '0')}`

/** How every map blockcopy writes begins: what tells its own temporary files from anyone else's (journal.ts start). */
export const MAP_HEADER = '# Mapfile. Created by blockcopy'

/** The mapfile's text, as ddrescue lays it out. */
export function formatMap(m: RescueMap, commandLine: string, startTime: Date, now: Date = new Date()): string {
  const time = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 19)
  const out = [
    `${MAP_HEADER} (GNU ddrescue mapfile format)`,
    `# Command line: ${commandLine.replace(/\n/g, ' ')}`,
    `# Start time:   ${time(startTime)}`,
    `# Current time: ${time(now)}`,
    ...(m.currentStatus === '+' ? ['# Finished'] : []),
    ...(m.sourceSize === null ? [] : [`# blockcopy source-size ${m.sourceSize}`]),
    ...(m.destOffsets === null || m.destOffsets.length === 0 ? [] : [`# blockcopy dest-offsets ${m.destOffsets.join(' ')}`]),
    ...(m.sourceIdentity === null ? [] : [`# blockcopy source-identity ${m.sourceIdentity}`]),
    ...(m.sourceMtimeNs === null ? [] : [`# blockcopy source-mtime ${m.sourceMtimeNs}`]),
    ...(m.sourceSample === null ? [] : [`# blockcopy source-sample${m.sourceSample.map((b) => ` ${b.pos}:${b.size}:${b.digest ?? '-'}`).join('')}`]),
    ...(m.destIdentity === null ? [] : [`# blockcopy dest-identity ${m.destIdentity.join(' ')}`]),
    '# current_pos  current_status  current_pass',
    `${hex(m.currentPos)}     ${m.currentStatus}               ${m.currentPass}`,
    '#      pos        size  status',
    ...m.blocks.map((b) => `${hex(b.pos)}  ${hex(b.size)}  ${b.status}`),
  ]
  return `${out.join('\n')}\n`
}

/** Neighbours with the same status become one block. */
function merged(blocks: MapBlock[]): MapBlock[] {
  const out: MapBlock[] = []
  for (const b of blocks) {
    const last = out[out.length - 1]
    if (last && last.status === b.status && last.pos + last.size === b.pos) last.size += b.size
    else out.push({ ...b })
  }
  return out
}

/** Sets [pos, pos + size) to status; the range must lie inside the map's blocks. */
export function setStatus(m: RescueMap, pos: number, size: number, status: BlockStatus): void {
  if (size <= 0) return
  const end = pos + size
  const out: MapBlock[] = []
  let placed = false
  for (const b of m.blocks) {
    const bEnd = b.pos + b.size
    if (bEnd <= pos || b.pos >= end) {
      if (!placed && b.pos >= end) {
        out.push({ pos, size, status })
        placed = true
      }
      out.push(b)
      continue
    }
    if (b.pos < pos) out.push({ pos: b.pos, size: pos - b.pos, status: b.status })
    if (!placed) {
      out.push({ pos, size, status })
      placed = true
    }
    if (bEnd > end) out.push({ pos: end, size: bEnd - end, status: b.status })
  }
  if (!placed) out.push({ pos, size, status })
  m.blocks = merged(out)
}

/** The ranges whose status is one of `statuses`, in order. */
export function rangesWith(m: RescueMap, statuses: readonly BlockStatus[]): Array<{ pos: number; size: number }> {
  return m.blocks.filter((b) => statuses.includes(b.status)).map((b) => ({ pos: b.pos, size: b.size }))
}

/** Bytes per status. */
export function bytesByStatus(m: RescueMap): Record<BlockStatus, number> {
  const out: Record<BlockStatus, number> = { '?': 0, '*': 0, '/': 0, '-': 0, '+': 0 }
  for (const b of m.blocks) out[b.status] += b.size
  return out
}

/** A new map: the whole range non-tried. */
export function freshMap(pos: number, size: number, sourceSize: number, destOffsets: number[] | null = null): RescueMap {
  return {
    currentPos: pos, currentStatus: '?', currentPass: 1, blocks: size > 0 ? [{ pos, size, status: '?' }] : [], sourceSize, destOffsets,
    sourceIdentity: null, sourceMtimeNs: null, sourceSample: null, destIdentity: null,
  }
}
