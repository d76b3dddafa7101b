import fs from 'node:fs'
import nodePath from 'node:path'
import { BlockcopyError, SystemError, toSystemError } from '../errors.js'
import type { IoBackend } from '../io/types.js'
import { syncParentDir, temporaryPathOf, writeFileDurably } from '../io/durable.js'
import { dropLock, takeLock } from '../io/lockfile.js'
import { isUnknown, type Manifest } from '../hash/manifest.js'
import { holdsAsRecorded } from './since.js'
import type { BaselineResult, BaselineTask, ChunkTask, CopyChunkResult } from '../protocol/protocol.js'
import { passTurnWhenDue } from '../protocol/order.js'
import { quoted } from '../quote.js'
import { refuseAliases, regionRole, type PathRole } from '../files/aliases.js'
import { Xxh3Simd } from '../hash/xxh3-simd.js'
import { BTRFS_MAGIC, extentMapsProve, sameExtents } from './extent-compare.js'

/*
 * Baselines for incremental copies (`copy --since M --baseline PATH`; its
 * old name `--checkpoint`, kept for one release, is the same thing),
 * on file systems that clone (XFS with reflink, btrfs).
 *
 * An incremental copy must know which chunks of the source changed since
 * the destination's manifest; without help it reads and hashes every byte.
 * A baseline is a reflink clone of the source, taken at the start of each
 * run and kept until the next: every run copies from its own clone (a
 * point-in-time image, whatever writes the source meanwhile), and compares
 * the clone's extent map (FIEMAP) with the last run's. Where both map a
 * chunk to the same blocks, the chunk is unchanged: the last clone holds
 * those blocks, so any write to them, through either file, went elsewhere
 * (copy on write). Such chunks are neither read nor written; the rest are
 * read, hashed and compared with the manifest as usual.
 *
 * A baseline is only trusted for the manifest it was made with. PATH.json
 * binds them: the manifest's algorithm, chunk size, size and root, and
 * PATH's device, inode, mtime and ctime as they were when bound. Anything
 * else (another manifest, a baseline written to, renamed or replaced, a
 * missing or damaged PATH.json) and this run reads every chunk, as without
 * a baseline, and says why in the result. A run binds its clone only
 * once it has succeeded; a failed run removes it.
 *
 * One run at a time per baseline: each holds flock on PATH.lock from the
 * clone to the binding (the kernel lets go if the process dies), so two
 * runs can never bind one's clone to the other's manifest; it removes
 * PATH.lock as it lets go.
 *
 * Only XFS and btrfs (statfs): their extent maps give real device
 * addresses. Others may clone yet report addresses that prove nothing (an
 * SMB mount reports each extent at its file offset).
 */

/** chattr +C: btrfs clones only between files that agree on it. */
const FS_NOCOW_FL = 0x00800000

const BINDING_FORMAT = 'blockcopy-checkpoint'
const BINDING_VERSION = 1

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

/** What a copy reports of its baseline (result.incremental.checkpoint). */
export interface BaselineInfo {
  path: string
  /** The last run's baseline told which chunks were unchanged. */
  used: boolean
  /** Why it was not, or null. */
  reason: string | null
  /** Bytes of chunks found unchanged by their extents: neither read nor written. */
  unreadBytes: number
}

/** @deprecated The old name of BaselineInfo, kept for this release. */
export type CheckpointInfo = BaselineInfo

/** What the caller calls the baseline: `baseline`, or `checkpoint`, its name before this release. */
export type BaselineName = 'baseline' | 'checkpoint'

function bad(name: BaselineName, message: string): BlockcopyError {
  return new BlockcopyError('INVALID_ARGUMENT', `${name}: ${message}`, name)
}

function noSupport(name: BaselineName, message: string): BlockcopyError {
  return new BlockcopyError('NO_SUPPORT', `${name}: ${message}`, name)
}

const identity = (st: fs.BigIntStats) => ({ dev: String(st.dev), ino: String(st.ino), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) })

/** The manifest's root as its digests give it (a caller may have edited one and not the other). */
function rootOf(m: Manifest): string {
  return Xxh3Simd.createSync(m.algo).init().update(m.digests).digest('hex')
}

/**
 * Why the last baseline, open as `fd` (-1: there is none), cannot vouch
 * for `m`, or null if it can: PATH.json must bind exactly this manifest and
 * exactly this file as it is now.
 */
async function bindingProblem(path: string, fd: number, m: Manifest): Promise<string | null> {
  if (fd < 0) return `no checkpoint at ${path} yet`
  let b: Partial<Binding> | null
  try {
    b = JSON.parse(await fs.promises.readFile(`${path}.json`, 'utf8')) as Partial<Binding> | null
  } catch {
    return `${path}.json is missing or damaged`
  }
  if (typeof b !== 'object' || b === null || b.format !== BINDING_FORMAT || b.version !== BINDING_VERSION) {
    return `${path}.json is not a version ${BINDING_VERSION} checkpoint binding`
  }
  if (rootOf(m) !== m.root) return `the manifest's root ${m.root} is not the digest of its chunk digests`
  if (b.algo !== m.algo || b.chunkBytes !== m.chunkBytes || b.sizeBytes !== m.sizeBytes || b.root !== m.root) {
    return `${path} was taken for another manifest (root ${quoted(String(b.root))}, this one ${m.root})`
  }
  const now = identity(fs.fstatSync(fd, { bigint: true }))
  if (now.dev !== b.dev || now.ino !== b.ino || now.mtimeNs !== b.mtimeNs || now.ctimeNs !== b.ctimeNs) {
    return `${path} was changed, replaced or moved since it was taken`
  }
  return null
}

/** The names a baseline at `path` uses beside it. */
const namesOf = (path: string) => [path, `${path}.next`, `${path}.json`, `${path}.lock`]

/**
 * Every file a baseline at `path` writes, for src/files/aliases.ts: none
 * may be a file the copy reads or writes otherwise. `name` is what the
 * user knows it by (`--baseline`, or the library's `baseline`), `argument`
 * the library's name.
 */
export function baselineRoles(path: string, name: string, argument: BaselineName): PathRole[] {
  const role = (part: string | null, p: string): PathRole => ({ name, path: p, argument, ...(part ? { part } : {}) })
  return [
    role(null, path), role('clone', `${path}.next`), role('binding', `${path}.json`),
    role('binding\'s temporary file', temporaryPathOf(`${path}.json`)), role('lock file', `${path}.lock`),
  ]
}

/** Checks `path` against the copy's files; throws INVALID_ARGUMENT or NO_SUPPORT, creating nothing. */
function checkPath(source: string, dest: string, path: unknown, name: BaselineName): asserts path is string {
  if (typeof path !== 'string' || path === '') throw bad(name, 'must be the path of a file to keep the baseline in')
  const src = fs.statSync(source, { bigint: true })
  if (!src.isFile()) throw bad(name, `${source} is not a regular file; only files can be cloned`)
  const type = fs.statfsSync(source).type
  if (!extentMapsProve(type)) {
    throw noSupport(name, `${source} is on a file system (type 0x${type.toString(16)}) whose extent maps cannot prove a chunk unchanged; baselines need XFS with reflink or btrfs`)
  }
  const dir = nodePath.dirname(nodePath.resolve(path))
  const dirStat = fs.statSync(dir, { throwIfNoEntry: false })
  if (!dirStat) throw bad(name, `directory ${dir} does not exist`)
  if (!dirStat.isDirectory()) throw bad(name, `${dir} is not a directory`)
  // Across file systems a clone fails (EXDEV); btrfs subvolumes have their own st_dev yet clone between them.
  const dirFs = fs.statfsSync(dir).type
  if (fs.statSync(dir, { bigint: true }).dev !== src.dev && (type !== BTRFS_MAGIC || dirFs !== BTRFS_MAGIC)) {
    throw bad(name, `${path} must be on the file system of ${source}: a clone cannot cross file systems`)
  }
  // By identity: no other name of the source or the destination either.
  refuseAliases([regionRole('from.path', source)], [regionRole('to[0].path', dest), ...baselineRoles(path, name, name)])
  for (const file of namesOf(path)) {
    const st = fs.statSync(file, { throwIfNoEntry: false })
    if (st && !st.isFile()) throw bad(name, `${file} exists and is not a regular file`)
  }
}

/** Runs a baseline task on the client's pool (src/chunk/baseline-clone.ts). */
export type BaselineRunner = (task: BaselineTask) => Promise<BaselineResult>

/**
 * A baseline for one incremental copy: this run's clone, and which chunks
 * it shares with the last. Taken in two steps so that the main thread never
 * waits on the disk: take() checks, locks and creates the clone's file
 * (system calls on metadata, and a one-block clone that answers whether
 * these files clone at all); clone(), before the copy's first read, has a
 * worker clone the whole source, sync it and map its extents.
 */
export class Baseline {
  readonly info: BaselineInfo
  /** This run's clone of the source: the copy's source. */
  readonly clonePath: string
  /** Per manifest chunk, 1 where it is unchanged since the last baseline; null when none could be used (or before clone()). */
  private unchanged: Uint8Array | null = null
  private ended = false
  /** The source and the last baseline, open until clone() has used them (-1 once closed, or for no last baseline). */
  private srcFd: number
  private oldFd: number

  private constructor(
    private readonly lockFd: number, private readonly cloneFd: number, srcFd: number, oldFd: number,
    private readonly source: string, path: string, private readonly manifest: Manifest, private readonly name: BaselineName,
  ) {
    this.clonePath = `${path}.next`
    this.srcFd = srcFd
    this.oldFd = oldFd
    this.info = { path, used: false, reason: null, unreadBytes: 0 }
  }

  /**
   * Checks `path` against the copy's source and destination, takes its lock
   * and creates PATH.next, where the source will be cloned. Throws
   * INVALID_ARGUMENT or NO_SUPPORT (leaving no clone) before anything is
   * written to the destination. `name` is the option the caller gave it by,
   * for the messages.
   */
  static take(io: IoBackend, source: string, dest: string, path: unknown, m: Manifest, name: BaselineName = 'baseline'): Baseline {
    checkPath(source, dest, path, name)
    if (!offersBaselines(io)) throw noSupport(name, 'needs the native addon (extent maps, locks); it is not loaded')
    const lockFd = takeLock(`${path}.lock`, (fd) => io.tryLock(fd))
    if (lockFd === null) throw bad(name, `${path} is in use by another copy (${path}.lock is locked): one copy at a time per baseline`)
    let oldFd = -1
    try {
      // One descriptor for the binding's check and the extent map: nothing can swap PATH in between.
      oldFd = openIfFile(path)
      // Under the lock, a PATH.next is what a killed run left: createClone replaces it.
      const { srcFd, cloneFd } = createClone(io, source, `${path}.next`, name)
      return new Baseline(lockFd, cloneFd, srcFd, oldFd, source, path, m, name)
    } catch (err) {
      if (oldFd >= 0) fs.closeSync(oldFd)
      dropLock(`${path}.lock`, lockFd)
      throw err
    }
  }

  /**
   * Clones the whole source into PATH.next on a worker (`run`), synced, and
   * compares its extent map with the last baseline's. Before the copy
   * reads its source (the clone): its prepare step. Throws the clone's
   * errors as take() would have (the caller abandons the baseline).
   */
  async clone(run: BaselineRunner): Promise<void> {
    const m = this.manifest
    try {
      let why = await bindingProblem(this.info.path, this.oldFd, m)
      const r = await run({
        kind: 'baseline', src: { path: this.source, fd: this.srcFd }, clone: { path: this.clonePath, fd: this.cloneFd },
        old: { path: this.info.path, fd: why === null ? this.oldFd : -1 },
      })
      if (r.error) throw cloneRefusal(new SystemError(r.error.message, r.error.code, r.error.errno, r.error.syscall, r.error.path), this.source, this.clonePath, this.name)
      // Mapped every run, so a file system without extent maps fails above, before anything is bound.
      if (why === null && r.sizeBytes !== m.sizeBytes) why = `the source has ${r.sizeBytes} bytes now, the manifest ${m.sizeBytes}`
      const size = r.sizeBytes
      this.unchanged = why === null && r.oldExtents
        ? sameExtents(Float64Array.from(r.oldExtents), Float64Array.from(r.cloneExtents), size, m.chunkBytes)
        : null
      this.info.used = this.unchanged !== null
      this.info.reason = why
    } finally {
      this.closeInputs()
    }
  }

  /** What the copy's result says of this baseline; with `writeAll` (force) every chunk was written, so it was not used. */
  report(writeAll: boolean): BaselineInfo {
    return writeAll ? { ...this.info, used: false, reason: 'every chunk was written (force)' } : { ...this.info }
  }

  /** Whether chunk `index` will be answered without any I/O (the rate limit leaves such chunks out). */
  skips(index: number, since: { writeAll: boolean; manifest: Manifest; baseline?: Manifest }): boolean {
    // The source's chunk is as at the last run, which left the manifest's bytes: the destination must still hold them.
    return this.unchanged?.[index] === 1 && !since.writeAll && !isUnknown(since.manifest, index) && holdsAsRecorded(since, index)
  }

  /**
   * For the job's task runner: the result of a copy task whose chunk is
   * unchanged (no read, no write: its digest is the manifest's), or null
   * for a task the workers must run. Never for a chunk the manifest does not
   * know or when every chunk must be written (`since.writeAll`).
   */
  skip(t: ChunkTask, since: { writeAll: boolean; manifest: Manifest; baseline?: Manifest }): Promise<CopyChunkResult> | null {
    if (t.kind !== 'copy' || !t.since?.digest || !this.skips(t.chunkIndex, since)) return null
    this.info.unreadBytes += t.lengthBytes
    const r: CopyChunkResult = {
      kind: 'copy', chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: t.since.digest, readErr: false, writeErr: 0, errors: [], directBytes: 0,
      skippedBytes: t.lengthBytes,
    }
    // Sequential writes: later chunks wait for this one's turn to pass.
    return t.writeTurn ? passTurnWhenDue(new Int32Array(t.writeTurn), t.chunkIndex).then(() => r) : Promise.resolve(r)
  }

  /** The copy succeeded and `m` describes the destination: the clone becomes the baseline, bound to `m`. */
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
      // This run's clone by its own descriptor, whatever PATH names by now.
      const binding: Binding = {
        format: BINDING_FORMAT, version: BINDING_VERSION, algo: m.algo, chunkBytes: m.chunkBytes, sizeBytes: m.sizeBytes, root: m.root,
        ...identity(fs.fstatSync(this.cloneFd, { bigint: true })),
      }
      await writeFileDurably(`${path}.json`, `${JSON.stringify(binding)}\n`)
    } finally {
      this.release()
    }
  }

  /** The copy failed or was cancelled: this run's clone goes; the last baseline stays as it was. Never throws. */
  abandon(): void {
    if (this.ended) return
    this.ended = true
    try {
      fs.rmSync(this.clonePath, { force: true })
    } catch (err) {
      process.emitWarning(`blockcopy: could not remove ${this.clonePath} (${String(err)}); the next run replaces it`)
    } finally {
      this.release()
    }
  }

  /** Closes the source and the last baseline, which only clone() reads. */
  private closeInputs(): void {
    for (const fd of [this.srcFd, this.oldFd]) if (fd >= 0) fs.closeSync(fd)
    this.srcFd = -1
    this.oldFd = -1
  }

  private release(): void {
    this.closeInputs()
    try {
      fs.closeSync(this.cloneFd)
    } catch {
      // Closing cannot lose data here: the clone was synced before it was bound.
    }
    dropLock(`${this.info.path}.lock`, this.lockFd)
  }
}

/** A backend with the calls a baseline needs (the addon's; node:fs has none of them). */
type BaselineIo = IoBackend & Required<Pick<IoBackend, 'fiemap' | 'tryLock' | 'inodeFlags' | 'setInodeFlags'>>

function offersBaselines(io: IoBackend): io is BaselineIo {
  return io.fiemap !== undefined && io.tryLock !== undefined && io.inodeFlags !== undefined && io.setInodeFlags !== undefined
}

/** PATH opened read-only, or -1 if there is no such file. */
function openIfFile(path: string): number {
  try {
    return fs.openSync(path, fs.constants.O_RDONLY)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return -1
    throw toSystemError(err, 'open', path)
  }
}

/**
 * Creates the file at `to` that the source will be cloned into (mode 0600:
 * it will hold the source's data), replacing one a crashed run left, and
 * clones the source's first block into it: the kernel's answer on these
 * very files (another file system, no reflink, btrfs No_COW) before the
 * copy starts, at the cost of at most one block written back. The whole
 * clone runs later on a worker (Baseline.clone). Returns the source's
 * descriptor and the clone's, open read-write.
 */
function createClone(io: BaselineIo, source: string, to: string, name: BaselineName): { srcFd: number; cloneFd: number } {
  fs.rmSync(to, { force: true })
  const from = fs.openSync(source, fs.constants.O_RDONLY)
  let fd = -1
  try {
    fd = fs.openSync(to, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
    // btrfs clones only between files that agree on No_COW (chattr +C), which must be set while the file is empty.
    const nocow = io.inodeFlags(from) & FS_NOCOW_FL
    if (nocow) io.setInodeFlags(fd, io.inodeFlags(fd) | nocow)
    io.cloneRange(from, 0, fd, 0, Math.min(fs.fstatSync(from).size, io.fsBlockBytes(fd)))
    return { srcFd: from, cloneFd: fd }
  } catch (err) {
    if (fd >= 0) fs.closeSync(fd)
    fs.rmSync(to, { force: true })
    fs.closeSync(from)
    throw cloneRefusal(err, source, to, name)
  }
}

/** A clone's failure as the copy reports it: another file system or no reflink are the caller's to fix; anything else as it came. */
function cloneRefusal(err: unknown, source: string, to: string, name: BaselineName): unknown {
  const code = err instanceof SystemError ? err.code : ''
  if (code === 'EXDEV') return bad(name, `${to} must be on the file system of ${source}: a clone cannot cross file systems`)
  if (code === 'EOPNOTSUPP') return noSupport(name, `the file system of ${source} cannot clone it (EOPNOTSUPP; XFS needs mkfs.xfs -m reflink=1)`)
  return err
}
