// files/: opening, identity, sync and close of a job's files: regions and open (regions.ts, open-job.ts), same-storage checks (storage.ts, sysfs.ts, aliases.ts), preallocate, sync and close (job-files.ts).
import fs from 'node:fs'
import path from 'node:path'
import { BlockcopyError, SystemError, toSystemError } from '../errors.js'
import { systemPageBytes } from '../io/page.js'
import type { IoBackend } from '../io/types.js'
import { followLinks } from '../io/durable.js'
import { newFileIdentity, storageOf, type Storage } from './storage.js'
import { accessAnswersForUs } from '../io/access.js'
import type { FileRef } from '../protocol/protocol.js'

/** A byte range of a file or block device. */
export interface Region {
  path: string
  /** First byte, default 0. */
  offset?: number
  /** Bytes; for a source, default the rest of the source. */
  length?: number
}

/** Whether to bypass the page cache: where possible, everywhere or nowhere. */
export type DirectMode = 'auto' | 'always' | 'never'

/**
 * The page size (at least 4 KiB): every alignment the engine uses divides
 * it, direct I/O is only for whole pages, and worker buffers are aligned to it.
 */
export const PAGE_BYTES = Math.max(4096, systemPageBytes())

/** Linux O_TMPFILE (includes O_DIRECTORY) on x86_64 and arm64. */
export const O_TMPFILE = 0o20200000

/** What is known of a path before anything is opened for writing. */
export interface PathFacts {
  path: string
  exists: boolean
  isBlockDevice: boolean
  sizeBytes: number
  /**
   * Which file or device node this is: `dev:RDEV` for a device, `ino:DEV:INO`
   * for a file, `new:...` for one still to be created (pathIdentity). One
   * O_EXCL claim is taken per device by it (open-job.ts openAll).
   */
  identity: string
  /**
   * What its bytes are stored in (src/files/storage.ts): a loop device is a
   * range of its file, a partition a range of its disk. Overlaps are judged
   * by it (checkNoOverlap).
   */
  storage: Storage
}

/** An open file, as the main thread holds it for the life of a job. */
export interface OpenFile extends FileRef {
  isBlockDevice: boolean
  sizeBytes: number
  created: boolean
}

/** Rejects a value that is not a non-negative safe integer, naming the argument. */
export function checkByteCount(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: must be a whole number of bytes >= 0, got ${String(value)}`, argument)
  }
  return value
}

/**
 * Which file a path names, for telling two names of one file apart: its
 * device and inode (the device number for a block device), or, for a file
 * still to be created, the directory the kernel will create it in (by
 * device and inode) plus its name, through a symlinked directory, a bind
 * mount or a dangling link alike. A path that cannot be looked at (a
 * symlink loop) is taken as a new file.
 */
export function pathIdentity(p: string): string {
  const st = (() => {
    try {
      return fs.statSync(p, { throwIfNoEntry: false })
    } catch {
      return undefined
    }
  })()
  if (st) return st.isBlockDevice() ? `dev:${st.rdev}` : `ino:${st.dev}:${st.ino}`
  return newFileIdentity(p)
}

/**
 * Where a file still to be created at `p` will be, as the kernel resolves
 * it: through a dangling symlink, what it names; `sub/..` through the
 * directory sub's link points to (io/durable.ts followLinks).
 */
export function creationPath(p: string): string {
  return followLinks(p)
}

/** Removes a file this process just created at `p` (not a symlink it was created through); never throws. */
export function removeCreated(p: string): void {
  try {
    fs.rmSync(creationPath(p), { force: true })
  } catch {
    // The failure that made it go is what the caller must see; an empty file left is the lesser harm.
  }
}

/**
 * Looks at a path without changing anything: whether it exists, what it is,
 * its size. A missing path is NOT_FOUND_VOLUME unless `mayCreate`, in which
 * case its parent directory must exist.
 */
export function inspectPath(io: IoBackend, p: string, argument: string, mayCreate: boolean): PathFacts {
  if (typeof p !== 'string' || p.length === 0) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: a path is required`, argument)
  }
  let st: fs.Stats
  try {
    st = fs.statSync(p)
  } catch (err) {
    const e = toSystemError(err, 'stat', p)
    if (e.code !== 'ENOENT') throw e
    if (!mayCreate) throw new BlockcopyError('NOT_FOUND_VOLUME', `${argument}: ${p} does not exist`, argument)
    // Where the file will be created: through a dangling symlink, in the directory it names, as the kernel resolves it.
    const dir = path.dirname(creationPath(p))
    if (!isDirectory(dir)) {
      throw new BlockcopyError('NOT_FOUND_VOLUME', `${argument}: directory ${dir} does not exist, so ${p} cannot be created`, argument)
    }
    return { path: p, exists: false, isBlockDevice: false, sizeBytes: 0, identity: pathIdentity(p), storage: storageOf(p) }
  }
  if (st.isBlockDevice()) {
    const fd = openOrThrow(io, p, false, false)
    try {
      return { path: p, exists: true, isBlockDevice: true, sizeBytes: io.blockInfo(fd).sizeBytes, identity: `dev:${st.rdev}`, storage: storageOf(p) }
    } finally {
      io.close(fd)
    }
  }
  if (!st.isFile()) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${p} is neither a regular file nor a block device`, argument)
  }
  const identity = `ino:${st.dev}:${st.ino}`
  return { path: p, exists: true, isBlockDevice: false, sizeBytes: st.size, identity, storage: storageOf(p) }
}

/** Whether `dir` is a directory, as the kernel resolves the path (stat of the text as given, never normalized). */
function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory()
  } catch {
    return false
  }
}

function openOrThrow(io: IoBackend, p: string, write: boolean, create: boolean, direct = false, exclusive = false): number {
  try {
    return io.open(p, { write, create, direct, exclusive })
  } catch (err) {
    throw toSystemError(err, 'open', p)
  }
}

/** Direct-I/O alignment of an open O_DIRECT descriptor, or 0 when the engine cannot honour it. */
function usableAlignment(io: IoBackend, directFd: number): number {
  const a = io.directAlignment(directFd)
  // Reported 0: the file system opens O_DIRECT but does not do it.
  if (a.reported && (a.memAlignBytes === 0 || a.offsetAlignBytes === 0)) return 0
  const need = Math.max(a.memAlignBytes, a.offsetAlignBytes, 1)
  // The page size: no page is shared by direct and buffered I/O (src/io/align.ts).
  return need <= PAGE_BYTES ? PAGE_BYTES : 0
}

/**
 * Decides, before anything is created, whether each path gets O_DIRECT.
 * Existing paths are opened with O_DIRECT (opening changes nothing); a path
 * still to be created is probed with an unnamed O_TMPFILE in its directory.
 * Returns the alignment per path (0: buffered only). With 'always', a path
 * that cannot do direct I/O is NO_SUPPORT naming `argument`.
 */
export function probeDirect(io: IoBackend, facts: PathFacts, mode: DirectMode, argument: string): number {
  if (mode === 'never') return 0
  const refuse = (why: string): number => {
    if (mode === 'always') {
      throw new BlockcopyError('NO_SUPPORT', `${argument}: \`direct: 'always'\`, but ${facts.path} ${why}`, 'direct')
    }
    return 0
  }
  if (io.info.kind !== 'native') return refuse(`cannot use O_DIRECT: the native addon is not loaded (${io.info.reason ?? 'unknown'})`)
  let fd = -1
  try {
    if (facts.exists) {
      fd = io.open(facts.path, { write: false, create: false, direct: true })
    } else {
      const dir = path.dirname(creationPath(facts.path))
      fd = fs.openSync(dir, O_TMPFILE | fs.constants.O_RDWR | fs.constants.O_DIRECT, 0o600)
    }
    const align = usableAlignment(io, fd)
    return align > 0 ? align : refuse(`needs a direct-I/O alignment above ${PAGE_BYTES} bytes`)
  } catch (err) {
    const e = toSystemError(err, 'open', facts.path)
    // No O_TMPFILE here (FUSE, NFS, vfat: EOPNOTSUPP, EISDIR): O_DIRECT is
    // unknown until the file exists; openForJob probes it then, and under
    // 'always' refuses it there (the file it created is removed again).
    if (!facts.exists && e.errno !== 22) return mode === 'always' ? PAGE_BYTES : 0
    return refuse(`refuses O_DIRECT (${e.code} from ${e.syscall})`)
  } finally {
    if (fd >= 0) io.close(fd)
  }
}

/**
 * Opens a checked path for the job: buffered descriptor always, O_DIRECT
 * descriptor when `alignBytes` > 0 (re-probed for a file just created).
 */
export function openForJob(io: IoBackend, facts: PathFacts, write: boolean, alignBytes: number, mode: DirectMode, claim = true): OpenFile {
  // A block device written to is claimed exclusively by its first
  // descriptor (O_EXCL: EBUSY when mounted or held by dm, md or LVM), and
  // stays claimed until the job ends. Other descriptors need no claim.
  const fd = openOrThrow(io, facts.path, write, write && !facts.exists, false, write && facts.isBlockDevice && claim)
  let directFd = -1
  let align = alignBytes
  try {
    if (align > 0 || (!facts.exists && mode === 'auto')) {
      try {
        directFd = io.open(facts.path, { write, create: false, direct: true })
        align = usableAlignment(io, directFd)
      } catch (err) {
        if (mode === 'always') throw toSystemError(err, 'open', facts.path)
        directFd = -1
      }
      if (align === 0 && directFd >= 0) {
        io.close(directFd)
        directFd = -1
        // The probe before creating it could not tell (an O_TMPFILE can answer otherwise); openAll removes what it created.
        if (mode === 'always') {
          throw new BlockcopyError('NO_SUPPORT', `direct: always was asked, but ${facts.path} opens O_DIRECT and does no direct I/O (statx DIOALIGN is 0)`, 'direct')
        }
      }
    }
    const info = io.blockInfo(fd)
    return {
      path: facts.path, fd, directFd, alignBytes: directFd >= 0 ? align : 0, uncachedEdges: info.isBlockDevice && directFd >= 0,
      isBlockDevice: info.isBlockDevice, sizeBytes: info.sizeBytes, created: !facts.exists,
    }
  } catch (err) {
    io.close(fd)
    if (directFd >= 0) io.close(directFd)
    // A file this call created goes again: refused input leaves none behind.
    if (write && !facts.exists) removeCreated(facts.path)
    throw err
  }
}

/**
 * Refuses a destination this process cannot write, before any file is
 * created: on a read-only file system, immutable, or without permission
 * (the file, or a new file's directory). Without this, an earlier destination would be created and
 * removed again when a later one failed to open.
 */
export function checkWritable(facts: PathFacts, argument: string): void {
  const target = facts.exists ? facts.path : path.dirname(creationPath(facts.path))
  const e = writeRefusal(target)
  if (!e) return
  const what = (facts.exists ? `${facts.path} cannot be written` : `${facts.path} cannot be created in ${target}`) +
    (e.code === 'EACCES' ? ' (permission denied to this user)' : '')
  // The system's code, and the argument it concerns.
  throw new SystemError(`${e.code}: ${argument}: ${what}`, e.code, e.errno, 'access', target)
}

/**
 * Why this process cannot write `target` (a file, or a directory to create
 * files in): EROFS (a read-only file system) or EPERM (immutable), which
 * refuse everyone; EACCES (no permission) where access() answers for this
 * process (src/io/access.ts); else null. access() judges by the real uid,
 * so for a service with CAP_DAC_OVERRIDE the write itself decides.
 */
export function writeRefusal(target: string): SystemError | null {
  try {
    fs.accessSync(target, fs.constants.W_OK)
    return null
  } catch (err) {
    const e = toSystemError(err, 'access', target)
    return e.code === 'EROFS' || e.code === 'EPERM' || (e.code === 'EACCES' && accessAnswersForUs()) ? e : null
  }
}

/** What a task carries of an open file: plain numbers and a path, nothing else of OpenFile. */
export function fileRef(f: OpenFile): FileRef {
  return { path: f.path, fd: f.fd, directFd: f.directFd, alignBytes: f.alignBytes, uncachedEdges: f.uncachedEdges }
}

/** Closes a job's descriptors; never throws (the data was already synced or reported). */
export function closeFile(io: IoBackend, f: OpenFile): void {
  for (const fd of [f.fd, f.directFd]) {
    if (fd < 0) continue
    try {
      io.close(fd)
    } catch {
      // Nothing left to lose: close errors after fdatasync carry no data.
    }
  }
}

/**
 * Two ranges on the same bytes overlap: INVALID_ARGUMENT naming both. Same
 * bytes by storage (src/files/storage.ts): a file and a loop device over
 * it, a disk and its partition, are compared where their bytes are.
 */
export function checkNoOverlap(
  a: { facts: PathFacts; offset: number; length: number; argument: string },
  b: { facts: PathFacts; offset: number; length: number; argument: string },
  rule: string,
): void {
  const sa = a.facts.storage
  const sb = b.facts.storage
  if (sa.identity !== sb.identity || a.length === 0 || b.length === 0) return
  const aStart = sa.offsetBytes + a.offset
  const bStart = sb.offsetBytes + b.offset
  if (aStart < bStart + b.length && bStart < aStart + a.length) {
    // Two names of one file need no explaining; a loop device or a partition over it does.
    const where = a.facts.identity === b.facts.identity
      ? ''
      : ` of ${a.facts.path}, which are the same bytes (${[...new Set([...sb.via, ...sa.via])].join('; ') || 'one file by two names'})`
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `${b.argument}: bytes ${b.offset}..${b.offset + b.length} of ${b.facts.path} overlap \`${a.argument}\` bytes ${a.offset}..${a.offset + a.length}${where}; ${rule}`,
      b.argument,
    )
  }
}
