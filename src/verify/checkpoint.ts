import fs from 'node:fs'
import nodePath from 'node:path'
import { BlockcopyError, SystemError, toSystemError } from '../errors.js'
import type { IoBackend } from '../io/types.js'
import { syncParentDir, writeFileDurably } from '../io/durable.js'
import type { Manifest } from './manifest.js'
import type { ChunkResult, Task } from '../protocol.js'
import { passTurnWhenDue } from '../chunk/order.js'

/*
 * Checkpoints for incremental copies (`copy --since M --checkpoint PATH`),
 * on file systems that clone (XFS with reflink, btrfs).
 *
 * An incremental copy must know which chunks of the source changed since
 * the destination's manifest; without help it reads and hashes every byte.
 * A checkpoint is a reflink clone of the source, taken at the start of each
 * run and kept until the next: every run copies from its own clone (a
 * point-in-time image, whatever writes the source meanwhile), and compares
 * the clone's extent map (FIEMAP) with the last run's. Where both map a
 * chunk to the same blocks, the chunk is unchanged: the last clone holds
 * those blocks, so any write to them, through either file, went elsewhere
 * (copy on write). Such chunks are neither read nor written; the rest are
 * read, hashed and compared with the manifest as usual.
 *
 * A checkpoint is only trusted for the manifest it was made with. PATH.json
 * binds them: the manifest's algorithm, chunk size, size and root, and
 * PATH's device, inode, mtime and ctime as they were when bound. Anything
 * else (another manifest, a checkpoint written to, renamed or replaced, a
 * missing or damaged PATH.json) and this run reads every chunk, as without
 * a checkpoint, and says why in the result. A run binds its clone only
 * once it has succeeded; a failed run removes it.
 *
 * One run at a time per checkpoint: each holds flock on PATH.lock from the
 * clone to the binding (the kernel lets go if the process dies), so two
 * runs can never bind one's clone to the other's manifest.
 */

/** FIEMAP extent flags (linux/fiemap.h). */
const EXTENT_LAST = 0x1
const EXTENT_MERGED = 0x1000
const EXTENT_SHARED = 0x2000
/**
 * Flags under which an extent's address proves nothing about its bytes:
 * UNKNOWN, DELALLOC, ENCODED, DATA_ENCRYPTED, NOT_ALIGNED, DATA_INLINE,
 * DATA_TAIL. Such a chunk is read.
 */
const UNTRUSTED = 0x2 | 0x4 | 0x8 | 0x80 | 0x100 | 0x200 | 0x400
/** Flags that may differ between two files sharing a block. */
const IGNORED = EXTENT_LAST | EXTENT_MERGED | EXTENT_SHARED

const BINDING_FORMAT = 'blockcopy-checkpoint'
const BINDING_VERSION = 1

/** The extent (logical start, physical start, flags) covering `pos` in a flat FIEMAP list, from index `k` on. */
interface Cursor {
  map: Float64Array
  k: number
}

/** Index of the extent holding `pos` (moving k forward), or -1 in a hole; `next` is where that state ends. */
function stateAt(c: Cursor, pos: number, end: number): { k: number; next: number } {
  const m = c.map
  while (c.k * 4 < m.length && (m[c.k * 4] as number) + (m[c.k * 4 + 2] as number) <= pos) c.k++
  if (c.k * 4 >= m.length) return { k: -1, next: end }
  const start = m[c.k * 4] as number
  if (start > pos) return { k: -1, next: Math.min(end, start) }
  return { k: c.k, next: Math.min(end, start + (m[c.k * 4 + 2] as number)) }
}

/**
 * Per chunk of [0, sizeBytes): 1 where the two files map every byte of it
 * to the same device blocks with the same flags (or both leave it a hole),
 * 0 where anything differs or cannot be trusted. `a` and `b` are flat
 * FIEMAP lists (IoBackend.fiemap).
 */
export function sameExtents(a: Float64Array, b: Float64Array, sizeBytes: number, chunkBytes: number): Uint8Array {
  const chunks = Math.ceil(sizeBytes / chunkBytes)
  const same = new Uint8Array(chunks).fill(1)
  const ca: Cursor = { map: a, k: 0 }
  const cb: Cursor = { map: b, k: 0 }
  for (let pos = 0; pos < sizeBytes;) {
    const x = stateAt(ca, pos, sizeBytes)
    const y = stateAt(cb, pos, sizeBytes)
    const next = Math.min(x.next, y.next)
    let equal = x.k < 0 && y.k < 0
    if (x.k >= 0 && y.k >= 0) {
      const fx = a[x.k * 4 + 3] as number
      const fy = b[y.k * 4 + 3] as number
      const px = (a[x.k * 4 + 1] as number) + pos - (a[x.k * 4] as number)
      const py = (b[y.k * 4 + 1] as number) + pos - (b[y.k * 4] as number)
      equal = px === py && (fx & ~IGNORED) === (fy & ~IGNORED) && (fx & UNTRUSTED) === 0
    }
    if (!equal) same.fill(0, Math.floor(pos / chunkBytes), Math.ceil(next / chunkBytes))
    pos = next
  }
  return same
}

/** What PATH.json holds. */
interface Binding {
  format: string
  version: number
  algo: string
  chunkBytes: number
  sizeBytes: number
  root: string
  dev: string
  ino: string
  mtimeNs: string
  ctimeNs: string
}

/** What a copy reports of its checkpoint (result.incremental.checkpoint). */
export interface CheckpointInfo {
  path: string
  /** The last run's checkpoint told which chunks were unchanged. */
  used: boolean
  /** Why it was not, or null. */
  reason: string | null
  /** Bytes of chunks found unchanged by their extents: neither read nor written. */
  unreadBytes: number
}

function bad(message: string): BlockcopyError {
  return new BlockcopyError('INVALID_ARGUMENT', `checkpoint: ${message}`, 'checkpoint')
}

const identity = (st: fs.BigIntStats) => ({ dev: String(st.dev), ino: String(st.ino), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) })

/** Why the binding at `path` does not hold for `m` and the checkpoint as it is now, or null if it does. */
function bindingProblem(path: string, m: Manifest): string | null {
  let st: fs.BigIntStats
  try {
    st = fs.statSync(path, { bigint: true })
  } catch {
    return `no checkpoint at ${path} yet`
  }
  let b: Binding
  try {
    b = JSON.parse(fs.readFileSync(`${path}.json`, 'utf8')) as Binding
  } catch {
    return `${path}.json is missing or damaged`
  }
  if (b.format !== BINDING_FORMAT || b.version !== BINDING_VERSION) return `${path}.json is not a version ${BINDING_VERSION} checkpoint binding`
  if (b.algo !== m.algo || b.chunkBytes !== m.chunkBytes || b.sizeBytes !== m.sizeBytes || b.root !== m.root) {
    return `${path} was taken for another manifest (root ${b.root}, this one ${m.root})`
  }
  const now = identity(st)
  if (now.dev !== b.dev || now.ino !== b.ino || now.mtimeNs !== b.mtimeNs || now.ctimeNs !== b.ctimeNs) {
    return `${path} was changed, replaced or moved since it was taken`
  }
  return null
}

/** A checkpoint for one incremental copy: this run's clone, and which chunks it shares with the last. */
export class Checkpoint {
  readonly info: CheckpointInfo
  /** This run's clone of the source: the copy's source. */
  readonly clonePath: string
  /** Per manifest chunk, 1 where it is unchanged since the last checkpoint; null when none could be used. */
  readonly unchanged: Uint8Array | null
  private ended = false

  private constructor(
    private readonly io: IoBackend, private readonly lockFd: number,
    path: string, clonePath: string, unchanged: Uint8Array | null, reason: string | null,
  ) {
    this.clonePath = clonePath
    this.unchanged = unchanged
    this.info = { path, used: unchanged !== null, reason, unreadBytes: 0 }
  }

  /**
   * Checks `path` against the copy's source and destination, then clones the
   * source to PATH.next and compares it with the last checkpoint. Throws
   * INVALID_ARGUMENT or NO_SUPPORT (nothing left behind) before anything is
   * written to the destination.
   */
  static take(io: IoBackend, source: string, dest: string, path: unknown, m: Manifest): Checkpoint {
    if (typeof path !== 'string' || path === '') throw bad('must be the path of a file to keep the checkpoint in')
    const src = fs.statSync(source, { bigint: true })
    if (!src.isFile()) throw bad(`${source} is not a regular file; only files can be cloned`)
    const dir = nodePath.dirname(nodePath.resolve(path))
    let dirStat: fs.BigIntStats
    try {
      dirStat = fs.statSync(dir, { bigint: true })
    } catch {
      throw bad(`directory ${dir} does not exist`)
    }
    if (!dirStat.isDirectory()) throw bad(`${dir} is not a directory`)
    if (dirStat.dev !== src.dev) throw bad(`${path} must be on the file system of ${source}: a clone cannot cross file systems`)
    for (const p of [path, `${path}.next`]) {
      const st = fs.statSync(p, { bigint: true, throwIfNoEntry: false })
      if (!st) continue
      if (!st.isFile()) throw bad(`${p} exists and is not a regular file`)
      if (st.ino === src.ino && st.dev === src.dev) throw bad(`${p} is the source itself`)
      const d = fs.statSync(dest, { bigint: true, throwIfNoEntry: false })
      if (d && st.ino === d.ino && st.dev === d.dev) throw bad(`${p} is the destination itself`)
    }
    if (!io.fiemap || !io.tryLock) throw new BlockcopyError('NO_SUPPORT', 'checkpoint: needs the native addon (extent maps, locks); it is not loaded', 'checkpoint')
    const lockFd = io.open(`${path}.lock`, { write: true, create: true, direct: false })
    let taken = false
    try {
      if (!io.tryLock(lockFd)) throw bad(`${path} is in use by another copy (${path}.lock is locked): one copy at a time per checkpoint`)
      const clonePath = `${path}.next`
      const reason = bindingProblem(path, m)
      // Under the lock, a PATH.next is what a killed run left: cloneFile replaces it.
      cloneFile(io, source, clonePath)
      try {
        const size = fs.statSync(clonePath).size
        let unchanged: Uint8Array | null = null
        let why = reason
        if (why === null && size !== m.sizeBytes) why = `the source has ${size} bytes now, the manifest ${m.sizeBytes}`
        if (why === null) unchanged = sameExtents(extentsOf(io, path, size), extentsOf(io, clonePath, size), size, m.chunkBytes)
        taken = true
        return new Checkpoint(io, lockFd, path, clonePath, unchanged, why)
      } catch (err) {
        fs.rmSync(clonePath, { force: true })
        throw err
      }
    } finally {
      if (!taken) io.close(lockFd)
    }
  }

  /**
   * For the job's task runner: the result of a copy task whose chunk is
   * unchanged (no read, no write: its digest is the manifest's), or null
   * for a task the workers must run. Never for a chunk the manifest does not
   * know or when every chunk must be written (`since.writeAll`).
   */
  skip(t: Task, since: { writeAll: boolean }): Promise<ChunkResult> | null {
    if (t.kind !== 'copy' || this.unchanged?.[t.chunkIndex] !== 1 || !t.since?.digest || since.writeAll) return null
    this.info.unreadBytes += t.lengthBytes
    const r: ChunkResult = {
      chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: t.since.digest, readErr: false, writeErr: 0, errors: [], directBytes: 0,
      skippedBytes: t.lengthBytes,
    }
    // Sequential writes: later chunks wait for this one's turn to pass.
    return t.writeTurn ? passTurnWhenDue(new Int32Array(t.writeTurn), t.chunkIndex).then(() => r) : Promise.resolve(r)
  }

  /** The copy succeeded and `m` describes the destination: the clone becomes the checkpoint, bound to `m`. */
  async commit(m: Manifest): Promise<void> {
    if (this.ended) return
    this.ended = true
    const path = this.info.path
    try {
      try {
        await fs.promises.rename(this.clonePath, path)
      } catch (err) {
        await fs.promises.rm(this.clonePath, { force: true })
        throw toSystemError(err, 'rename', path)
      }
      await syncParentDir(path)
      const binding: Binding = {
        format: BINDING_FORMAT, version: BINDING_VERSION, algo: m.algo, chunkBytes: m.chunkBytes, sizeBytes: m.sizeBytes, root: m.root,
        ...identity(await fs.promises.stat(path, { bigint: true })),
      }
      await writeFileDurably(`${path}.json`, `${JSON.stringify(binding)}\n`)
    } finally {
      this.io.close(this.lockFd)
    }
  }

  /** The copy failed or was cancelled: this run's clone goes; the last checkpoint stays as it was. */
  abandon(): void {
    if (this.ended) return
    this.ended = true
    try {
      fs.rmSync(this.clonePath, { force: true })
    } finally {
      this.io.close(this.lockFd)
    }
  }
}

/** FIEMAP of the file at `path` over [0, size). */
function extentsOf(io: IoBackend, path: string, size: number): Float64Array {
  const fd = io.open(path, { write: false, create: false, direct: false })
  try {
    return (io.fiemap as NonNullable<IoBackend['fiemap']>).call(io, fd, 0, size)
  } finally {
    io.close(fd)
  }
}

/** Clones the whole of `source` to a new file at `to` (replacing one a crashed run left); NO_SUPPORT where the file system cannot. */
function cloneFile(io: IoBackend, source: string, to: string): void {
  fs.rmSync(to, { force: true })
  const from = io.open(source, { write: false, create: false, direct: false })
  let fd = -1
  try {
    fd = io.open(to, { write: true, create: true, exclusive: true, direct: false })
    io.cloneRange(from, 0, fd, 0, fs.fstatSync(from).size)
    // The clone's extent map on disk before anything is bound to it.
    fs.fsyncSync(fd)
  } catch (err) {
    if (fd >= 0) io.close(fd)
    fd = -1
    fs.rmSync(to, { force: true })
    const code = err instanceof SystemError ? err.code : ''
    if (code === 'EOPNOTSUPP' || code === 'EXDEV' || code === 'EINVAL' || code === 'ENOTTY') {
      throw new BlockcopyError('NO_SUPPORT', `checkpoint: the file system of ${source} cannot clone it (${code}); checkpoints need XFS with reflink or btrfs`, 'checkpoint')
    }
    throw err
  } finally {
    if (fd >= 0) io.close(fd)
    io.close(from)
  }
}
