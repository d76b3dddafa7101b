import fs from 'node:fs'
import nodePath from 'node:path'
import { toSystemError } from '../errors.js'

/** fdatasync on the libuv pool: the event loop keeps running meanwhile. */
export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())))
}

/** fsync of the directory holding `path`: its entries (a new or renamed file) are on disk. */
export async function syncParentDir(path: string): Promise<void> {
  // The directory the kernel put it in: through its symlinks, never by the path's text.
  const dir = await fs.promises.open(nodePath.dirname(followLinks(path)), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

/**
 * Replaces `path` with `bytes` durably and atomically: a temporary file
 * beside it, fsynced, renamed over it, then the directory fsynced. A crash
 * leaves the old file or the new one, never a mix. A symlink is followed:
 * the file it names is replaced, and the link stays.
 */
export async function writeFileDurably(given: string, bytes: string | Uint8Array): Promise<void> {
  const path = followLinks(given)
  const tmp = temporaryPathOf(path)
  let fh
  try {
    fh = await fs.promises.open(tmp, 'w', 0o644)
  } catch (err) {
    throw toSystemError(err, 'open', tmp)
  }
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => undefined)
    await fs.promises.rm(tmp, { force: true })
    throw toSystemError(err, 'write', tmp)
  }
  await fh.close()
  try {
    await fs.promises.rename(tmp, path)
  } catch (err) {
    await fs.promises.rm(tmp, { force: true })
    throw toSystemError(err, 'rename', path)
  }
  await syncParentDir(path)
}

/** The temporary file writeFileDurably writes beside `given` (through its symlinks) before renaming it over. */
export function temporaryPathOf(given: string): string {
  return `${followLinks(given)}.tmp-${process.pid}`
}

/**
 * Removes the temporary files writeFileDurably left beside `path` in
 * processes that no longer run (killed mid-save), and nothing else that is
 * named so: only a regular file (never a link, a directory or a device
 * node) that begins with `header` (so blockcopy wrote it), and that is none
 * of `keep` (`ino:DEV:INO` of the files the job reads and writes: a source
 * named MAP.tmp-N is the job's, not a leftover). A live writer's is kept.
 * Never throws: a leftover that stays costs only its space.
 */
export function removeStaleTemps(path: string, header: string, keep: ReadonlySet<string>): void {
  const dir = nodePath.dirname(nodePath.resolve(path))
  const prefix = `${nodePath.basename(path)}.tmp-`
  let names: string[] = []
  try {
    names = fs.readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    const pid = name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)) ? Number(name.slice(prefix.length)) : NaN
    if (!Number.isSafeInteger(pid) || pid <= 0 || isRunning(pid)) continue
    removeIfOurs(nodePath.join(dir, name), Buffer.from(header, 'utf8'), keep)
  }
}

/** Unlinks `p` if it is a regular file of none of `keep` that begins with `header`; never throws. */
function removeIfOurs(p: string, header: Buffer, keep: ReadonlySet<string>): void {
  let fd = -1
  try {
    // Looked at without following a link or opening anything else: a FIFO would block, a tape rewind.
    const st = fs.lstatSync(p)
    if (!st.isFile() || keep.has(`ino:${st.dev}:${st.ino}`)) return
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
    const opened = fs.fstatSync(fd)
    if (opened.dev !== st.dev || opened.ino !== st.ino) return
    const head = Buffer.alloc(header.length)
    if (fs.readSync(fd, head, 0, head.length, 0) !== head.length || !head.equals(header)) return
    fs.unlinkSync(p)
  } catch {
    // Gone meanwhile, or not ours to look at: left as it is.
  } finally {
    if (fd >= 0) fs.closeSync(fd)
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * The file a path names once its symlinks are followed, even when the last
 * link dangles (a file still to be created through it): what a durable
 * write must replace, so that the link stays a link, and where a new file
 * is created. Resolved as the kernel resolves it, never by the path's text:
 * `sub/../f` is in the directory above where sub's link points, not beside
 * sub (path.resolve and fs.realpathSync would say beside it). Absolute,
 * unless the directory does not exist: then `path` as given.
 */
export function followLinks(path: string): string {
  let p = path
  for (let hops = 0; hops < 40; hops++) {
    try {
      return fs.realpathSync.native(p)
    } catch {
      // Not there (yet), or a link that dangles: looked at below.
    }
    let st: fs.Stats | undefined
    try {
      st = fs.lstatSync(p, { throwIfNoEntry: false })
    } catch {
      return p
    }
    if (!st?.isSymbolicLink()) {
      try {
        return nodePath.join(fs.realpathSync.native(nodePath.dirname(p)), nodePath.basename(p))
      } catch {
        return p
      }
    }
    // A relative link is resolved from the directory the link is in, as reached: joined as text, never normalized.
    const target = fs.readlinkSync(p)
    p = nodePath.isAbsolute(target) ? target : `${nodePath.dirname(p)}/${target}`
  }
  return p
}
