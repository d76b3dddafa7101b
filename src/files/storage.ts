import fs from 'node:fs'
import nodePath from 'node:path'
import { followLinks } from '../io/durable.js'
import { loadBackend } from '../io/index.js'
import type { LoopStatus } from '../io/types.js'
import { devText, diskFingerprint, sysBlock, type SysBlock } from './sysfs.js'

/*
 * What a path's bytes are stored in, beneath the names the kernel gives
 * them: a partition is a range of its whole disk, a loop device is a range
 * of the file (or device) it is attached to, and both nest (a partition of
 * a loop device over a file is a range of that file). Two paths whose
 * storage is the same write each other's bytes, whatever their device and
 * inode numbers say; src/files/aliases.ts, regions.ts checkNoOverlap and
 * replicate compare them by it, and a resume map records it
 * (src/journal/identity.ts).
 *
 * Not seen through (a path is then its own storage): device-mapper and md
 * devices, a loop device whose file was unlinked when the native addon
 * cannot ask the loop driver (LOOP_GET_STATUS64), and file systems mounted
 * on any of these.
 */

/** Where a path's bytes are. */
export interface Storage {
  /**
   * The underlying storage: `ino:DEV:INO` for a file (of any kind but a
   * block device), `dev:RDEV` for a block device with nothing known beneath
   * it, `new:DEV:INO:NAME` for a file still to be created (the directory it
   * will be created in, as the kernel resolves it, and its name).
   */
  identity: string
  /** The byte of that storage that is this path's byte 0. */
  offsetBytes: number
  /**
   * What names that storage across renumbering and reboots: `identity`,
   * except for a whole disk sysfs names (`wwid:...`, `serial:...`,
   * `dm-uuid:...`, `udev-serial:...`, src/files/sysfs.ts diskFingerprint).
   */
  fingerprint: string
  /** The storage's modification time in nanoseconds, when it is a regular file; else null. */
  mtimeNs: bigint | null
  /** How the path reaches its storage, outermost first, for messages ('/dev/loop3 is a loop device on /tmp/img from byte 0'); empty for the storage itself. */
  via: string[]
}

/** Partitions and loop devices nested deeper than this are taken as their own storage. */
const MAX_DEPTH = 8

function statOf(p: string): fs.BigIntStats | undefined {
  try {
    return fs.statSync(p, { bigint: true, throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/**
 * The storage of a path. A path that cannot be looked at (missing, a
 * symlink loop) is a file still to be created (newFileIdentity).
 */
export function storageOf(p: string): Storage {
  const st = statOf(p)
  return st ? storageOfStats(st, p) : own(newFileIdentity(p), null)
}

/** The storage of an open descriptor of `p` (what it is now, whatever the path names meanwhile). */
export function storageOfFd(fd: number, p: string): Storage {
  return storageOfStats(fs.fstatSync(fd, { bigint: true }), p, fd)
}

function storageOfStats(st: fs.BigIntStats, p: string, fd?: number): Storage {
  if (st.isBlockDevice()) return deviceStorage(st.rdev, p, fd, 0)
  return own(`ino:${st.dev}:${st.ino}`, st.isFile() ? st.mtimeNs : null)
}

const own = (identity: string, mtimeNs: bigint | null): Storage => ({ identity, offsetBytes: 0, fingerprint: identity, mtimeNs, via: [] })

/** `s` seen from a path whose byte 0 is its byte `by`, reached as `how` says. */
const shifted = (s: Storage, by: number, how: string): Storage => ({ ...s, offsetBytes: s.offsetBytes + by, via: [how, ...s.via] })

/**
 * The identity of a file still to be created at `p`: the directory the
 * kernel will create it in (through a dangling symlink, the one it names),
 * by device and inode, and its name. By inode, not by path text: `sub/..`
 * is not `.` when sub is a symlink, and two paths through a bind mount are
 * one directory. `new:PATH` when that directory does not exist.
 */
export function newFileIdentity(p: string): string {
  const target = followLinks(p)
  const dir = statOf(nodePath.dirname(target))
  return dir ? `new:${dir.dev}:${dir.ino}:${nodePath.basename(target)}` : `new:${target}`
}

/** The storage of block device `dev`, named `node` (its /dev name when a parent), open as `fd` when the caller has it open. */
function deviceStorage(dev: bigint, node: string | null, fd: number | undefined, depth: number): Storage {
  const self = own(`dev:${dev}`, null)
  const b = depth < MAX_DEPTH ? sysBlock(dev) : null
  if (!b) return self
  const name = node ?? `/dev/${b.name}`
  if (b.partition) {
    const disk = deviceStorage(b.partition.parent, null, undefined, depth + 1)
    return shifted(disk, b.partition.startBytes, `${name} is a partition of /dev/${nodePath.basename(nodePath.dirname(b.dir))} from byte ${b.partition.startBytes}`)
  }
  const backing = b.loop ? loopBacking(dev, b, node, fd, depth) : null
  if (backing) return shifted(backing.storage, backing.offsetBytes, `${name} is a loop device on ${backing.name} from byte ${backing.offsetBytes}`)
  return { ...self, fingerprint: diskFingerprint(b, dev) ?? self.fingerprint }
}

/** The storage a loop device reads, and from which byte; null when that is not known. */
function loopBacking(dev: bigint, b: SysBlock, node: string | null, fd: number | undefined, depth: number): { storage: Storage; offsetBytes: number; name: string } | null {
  const path = b.loop?.backingFile ?? null
  const st = path === null ? undefined : statOf(path)
  const status = askLoop(dev, b, node, fd)
  if (status === null) return null
  if (status) {
    // The loop driver's answer holds; the name sysfs gives counts only while it names that same file.
    const named = st !== undefined && st.dev === BigInt(status.device) && st.ino === BigInt(status.inode)
    if (named && st.isBlockDevice()) return { storage: deviceStorage(st.rdev, path, undefined, depth + 1), offsetBytes: status.offsetBytes, name: path as string }
    const storage = own(`ino:${status.device}:${status.inode}`, named && st.isFile() ? st.mtimeNs : null)
    return { storage, offsetBytes: status.offsetBytes, name: named ? (path as string) : `the file with inode ${status.inode} on device ${devText(BigInt(status.device))} (no longer reachable by its name)` }
  }
  // Without the driver's answer, sysfs alone: its name, unless the kernel marked it deleted.
  if (path === null || st === undefined) return null
  const offsetBytes = b.loop?.offsetBytes ?? 0
  if (st.isBlockDevice()) return { storage: deviceStorage(st.rdev, path, undefined, depth + 1), offsetBytes, name: path }
  return { storage: own(`ino:${st.dev}:${st.ino}`, st.isFile() ? st.mtimeNs : null), offsetBytes, name: path }
}

/**
 * LOOP_GET_STATUS64 through the addon: the status, null when no file is
 * attached, undefined when it cannot be asked (no addon, no permission to
 * open the device: a user outside the disk group).
 */
function askLoop(dev: bigint, b: SysBlock, node: string | null, fd: number | undefined): LoopStatus | null | undefined {
  const io = loadBackend()
  if (!io.loopStatus) return undefined
  const ask = (f: number) => {
    try {
      return io.loopStatus?.(f)
    } catch {
      return undefined
    }
  }
  if (fd !== undefined) return ask(fd)
  for (const candidate of node !== null ? [node] : [`/dev/block/${devText(dev)}`, `/dev/${b.name}`]) {
    // Only a node of this very device: /dev/NAME may be stale in a container.
    const st = statOf(candidate)
    if (!st?.isBlockDevice() || st.rdev !== dev) continue
    let f: number
    try {
      f = io.open(candidate, { write: false, create: false, direct: false })
    } catch {
      continue
    }
    try {
      return ask(f)
    } finally {
      io.close(f)
    }
  }
  return undefined
}

/** The storage's fingerprint and this path's offset in it, as a map records it: `FINGERPRINT` or `FINGERPRINT+OFFSET`. */
export function fingerprintOf(s: Storage): string {
  return s.offsetBytes === 0 ? s.fingerprint : `${s.fingerprint}+${s.offsetBytes}`
}
