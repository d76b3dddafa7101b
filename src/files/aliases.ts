import fs from 'node:fs'
import nodePath from 'node:path'
import { BlockcopyError } from '../errors.js'
import { followLinks, temporaryPathOf } from '../io/durable.js'
import { lockPathOf } from '../io/lockfile.js'
import { pathIdentity } from './regions.js'
import { storageOf, type Storage } from './storage.js'

/*
 * One place that keeps a command from writing a file it reads, or from
 * writing one file under two names. Every command declares, before it
 * creates or writes anything, the paths it reads and the paths it writes
 * (with the files it writes beside them: temporary files, lock files), each
 * with the name its user knows it by, and refuseAliases() compares them by
 * the storage their bytes are in (src/files/storage.ts: device and inode,
 * st_rdev for a block device, the file a loop device reads, the disk a
 * partition is part of, the directory (by inode) and name of a file still
 * to be created), so a symlink, a hard link, a bind mount, another node of
 * the same device, a loop device over the file, or a dangling link to a
 * file about to be created is the same file as its target.
 *
 * What each command reads and writes (src/cli/paths.ts declares them by
 * the names typed on the command line; the library declares its own):
 *   hash       reads FILE...; writes -o and its temporary file
 *   copy       reads SRC; writes DST..., --map, --since and --baseline
 *              with the temporary and lock files beside them
 *   replicate  reads SRC and --ranges; writes DST
 *   zero       writes DST...
 *   verify     reads SRC (or --manifest) and REPLICA...; writes nothing
 *   bench      writes only inside a directory it has just made in --target
 *   caps       writes only unnamed (O_TMPFILE) or exclusively created
 *              scratch files, which no existing path can name
 *   jobs       writes only its records in the state directory
 */

/** A path a command reads or writes, as its user knows it. */
export interface PathRole {
  /** What the user typed for it: 'FILE 2', '-o', 'SRC', 'DST 1', '--map'; through the API, the argument ('to[0].path', 'map'). */
  name: string
  path: string
  /** A file the command writes beside `name`'s file: 'lock file', 'temporary file'. Messages call it NAME's PART. */
  part?: string
  /** BlockcopyError.argument of a refusal that names it first; default `name`. */
  argument?: string
  /**
   * A byte range of it is read or written (a copy's SRC and DSTs, replicate's
   * SRC and DST, zero's DSTs): it may be the same file as another such path,
   * since those ranges are kept apart where they are checked (regions.ts
   * checkNoOverlap, replicate's memmove order).
   */
  region?: boolean
  /**
   * Saved by renaming a new file over its path: if it exists it must be a
   * regular file, or the rename would replace a device node, a FIFO, ...
   */
  replaced?: boolean
}

/** A path read or written in a byte range (see PathRole.region). */
export function regionRole(name: string, path: string): PathRole {
  return { name, path, region: true }
}

/**
 * A file saved by writing a temporary file beside it and renaming that over
 * it (io/durable.ts writeFileDurably), with the files it writes beside it:
 * the temporary file, and the lock file when one is taken (io/lockfile.ts).
 */
export function savedFileRoles(name: string, path: string, o: { argument?: string; lock?: boolean } = {}): PathRole[] {
  const argument = o.argument === undefined ? {} : { argument: o.argument }
  return [
    { name, path, replaced: true, ...argument },
    { name, part: 'temporary file', path: temporaryPathOf(path), ...argument },
    ...(o.lock ? [{ name, part: 'lock file', path: lockPathOf(path), ...argument }] : []),
  ]
}

const label = (r: PathRole) => (r.part ? `${r.name}'s ${r.part} ${r.path}` : `${r.name} ${r.path}`)

/** How two paths of one storage name the same file, for the message. */
function how(a: PathRole, b: PathRole, storage: Storage, other: Storage): string {
  if (nodePath.resolve(a.path) === nodePath.resolve(b.path)) return 'the same path'
  const ia = pathIdentity(a.path)
  const ib = pathIdentity(b.path)
  if (ia === ib && ia.startsWith('dev:')) return 'two names of the same block device'
  // A loop device or a partition over the other: how it reaches it.
  const via = [...new Set([...storage.via, ...other.via])]
  if (via.length > 0) return via.join('; ')
  const real = (p: string) => {
    try {
      return fs.realpathSync.native(p)
    } catch {
      return followLinks(p)
    }
  }
  const sameName = real(a.path) === real(b.path)
  if (ia.startsWith('new:')) return sameName ? 'the same file still to be created, one name through a symlink' : 'the same file still to be created, through another mount or path'
  if (sameName) return 'the same file, one name through a symlink'
  // Two directory entries are hard links; one entry seen through a bind mount (or another mount of the file system) is not.
  return entryOf(real(a.path)) !== entryOf(real(b.path)) && (statOf(a.path)?.nlink ?? 1) > 1
    ? 'hard links of the same file'
    : 'the same file through another mount or path'
}

/** The directory entry a real path is: its directory by device and inode, and its name. */
function entryOf(real: string): string {
  const dir = statOf(nodePath.dirname(real))
  return dir ? `${dir.dev}:${dir.ino}/${nodePath.basename(real)}` : real
}

/** What a path that exists and is not a regular file is, for the message. */
function kindOf(st: fs.Stats): string {
  if (st.isBlockDevice()) return 'a block device'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO'
  return st.isSocket() ? 'a socket' : 'another kind of file'
}

/** The path's stat, following links; undefined if there is nothing there, or it cannot be looked at (what uses it then says why). */
function statOf(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/**
 * Refuses, with INVALID_ARGUMENT naming both paths and the rule, any
 * written path that is the same file as a read path or as another written
 * path (two region paths excepted, see PathRole.region), and any `replaced`
 * path that exists and is not a regular file. Looks at the paths only:
 * call it before anything is created, truncated or written.
 */
export function refuseAliases(reads: readonly PathRole[], writes: readonly PathRole[]): void {
  const id = new Map<PathRole, Storage>()
  const storage = (r: PathRole) => {
    let v = id.get(r)
    if (v === undefined) id.set(r, (v = storageOf(r.path)))
    return v
  }
  // Any byte of one storage: a write replaces or changes what the other path reads, wherever in it each starts.
  const identity = (r: PathRole) => storage(r).identity
  writes.forEach((w, i) => {
    const others: Array<[PathRole, string]> = [
      ...reads.map((r): [PathRole, string] => [r, 'a command never writes a file it reads']),
      ...writes.slice(0, i).map((r): [PathRole, string] => [r, 'two files a command writes must be different files']),
    ]
    for (const [r, rule] of others) {
      if ((w.region && r.region) || identity(w) !== identity(r)) continue
      const what = w.part ? `its ${w.part} ${w.path}` : w.path
      throw new BlockcopyError(
        'INVALID_ARGUMENT',
        `${w.name}: ${what} is ${label(r)} (${how(w, r, storage(w), storage(r))}); ${rule}, so nothing was written`,
        w.argument ?? w.name,
      )
    }
  })
  for (const w of writes) {
    if (!w.replaced) continue
    const st = statOf(w.path)
    if (st && !st.isFile()) {
      throw new BlockcopyError(
        'INVALID_ARGUMENT',
        `${w.name}: ${w.path} is not a regular file but ${kindOf(st)}; it is saved by writing a new file beside it and renaming that over ${w.path}, which would replace it`,
        w.argument ?? w.name,
      )
    }
  }
}
