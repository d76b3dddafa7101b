import fs from 'node:fs'
import type { JobRecord } from './store.js'

/**
 * The most bytes a record file may hold. `jobs` reads no more than this of
 * one (a state directory is anyone's to fill), and a job never writes more.
 */
export const RECORD_MAX_BYTES = 1024 * 1024

/** The lists a record may hold without bound, by name: cut to fit, from the end. */
const LISTS: ReadonlySet<string> = new Set(['argv', 'completed', 'errors', 'differing'])

/** How many entries of each list a record left out to stay within RECORD_MAX_BYTES. */
export type OmittedCounts = Partial<Record<'argv' | 'completed' | 'errors' | 'differing', number>>

/**
 * A record as the text of its file, within RECORD_MAX_BYTES. A record is a
 * few KiB, but its result lists every completed extent and failed range (a
 * replicate of a million scattered ranges has a million extents) and its
 * argv the command line (up to 2 MiB): past the limit, each such list keeps
 * its first entries, fewer and fewer until the record fits, and `omitted`
 * says how many of each were left out.
 */
export function recordText(record: JobRecord): string {
  const whole = `${JSON.stringify(record)}\n`
  if (Buffer.byteLength(whole) <= RECORD_MAX_BYTES) return whole
  for (let keep = 1 << 16; ; keep = Math.floor(keep / 2)) {
    const omitted: OmittedCounts = {}
    const lists = JSON.stringify(record, (key, value: unknown) => {
      if (!LISTS.has(key) || !Array.isArray(value) || value.length <= keep) return value
      const name = key as keyof OmittedCounts
      omitted[name] = (omitted[name] ?? 0) + value.length - keep
      return value.slice(0, keep)
    })
    const cut = `${JSON.stringify({ ...(JSON.parse(lists) as JobRecord), omitted })}\n`
    if (Buffer.byteLength(cut) <= RECORD_MAX_BYTES || keep === 0) return cut
  }
}

/** What a record file is when it is not a regular file, in words; null for a regular file. */
function notRegular(st: fs.Stats): string | null {
  if (st.isFile()) return null
  if (st.isSymbolicLink()) return 'a symbolic link'
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  return 'not a regular file'
}

/**
 * The text of a record file, or what is wrong with it as one: never
 * blocking, never reading without bound. A record is a regular file that a
 * job wrote whole and renamed into place, so a FIFO (whose open would wait
 * for a writer), a device (/dev/zero never ends), a directory or a symbolic
 * link (which may lead anywhere) is refused before it is opened, and so is
 * a file past RECORD_MAX_BYTES. The open does not wait (O_NONBLOCK) nor
 * follow a link (O_NOFOLLOW) in case the file was replaced since, and what
 * was opened is checked again. Errors of the system (ENOENT, EACCES) are
 * thrown, for the caller to name.
 */
export function readRecordFile(file: string): { text: string } | { problem: string } {
  const checked = (st: fs.Stats): { problem: string } | null => {
    const kind = notRegular(st)
    if (kind) return { problem: `is ${kind}, not a regular file as every record is` }
    if (st.size > RECORD_MAX_BYTES) return { problem: `is ${st.size} bytes, more than the ${RECORD_MAX_BYTES} a record may hold` }
    return null
  }
  const before = checked(fs.lstatSync(file))
  if (before) return before
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return { problem: 'is a symbolic link, not a regular file as every record is' }
    throw err
  }
  try {
    const st = fs.fstatSync(fd)
    const after = checked(st)
    if (after) return after
    // A record is replaced whole (renamed over), never written in place: one byte more than it had tells a file that is not one.
    const buf = Buffer.alloc(st.size + 1)
    let n = 0
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null)
      if (got === 0) break
      n += got
      if (n === buf.length) return { problem: 'grew while it was read, as a record never does' }
    }
    return { text: buf.toString('utf8', 0, n) }
  } finally {
    fs.closeSync(fd)
  }
}
