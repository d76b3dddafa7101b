import fs from 'node:fs'
import { followLinks } from './durable.js'

/*
 * Lock files for one process at a time (a baseline's PATH.lock): flock on
 * a file that is removed as the lock is let go, so none is left behind. A
 * lock is only good while the path still names the locked file: a process
 * that opened the file just before another removed it may lock a file no
 * one else will ever see, so after locking, the path is checked to name the
 * same inode, and the lock taken again on the new file if not.
 */

/**
 * Opens (creating, mode 0600) the lock file at `path` and takes its lock
 * with `tryLock` (flock LOCK_EX | LOCK_NB on the descriptor): the
 * descriptor, which holds the lock until dropLock, or null when another
 * process holds it.
 */
export function takeLock(path: string, tryLock: (fd: number) => boolean): number | null {
  for (;;) {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600)
    let held = false
    try {
      if (!tryLock(fd)) return null
      const now = fs.statSync(path, { bigint: true, throwIfNoEntry: false })
      const mine = fs.fstatSync(fd, { bigint: true })
      held = now !== undefined && now.ino === mine.ino && now.dev === mine.dev
    } finally {
      if (!held) fs.closeSync(fd)
    }
    if (held) return fd
  }
}

/** Removes the lock file while still holding it, then lets go. Never throws. */
export function dropLock(path: string, fd: number): void {
  try {
    fs.rmSync(path, { force: true })
  } catch {
    // A lock file left behind is harmless: the next process locks it again.
  }
  try {
    fs.closeSync(fd)
  } catch {
    // The lock goes with the descriptor, closed or not.
  }
}

/**
 * The lock file of a file that is saved by renaming a new one over it (a
 * map, a manifest): beside the file its symlinks name, so that every name
 * of it takes the same lock.
 */
export function lockPathOf(file: string): string {
  return `${followLinks(file)}.lock`
}

/**
 * A lock taken with takeLock and held for a run (a map's, an incremental
 * copy's manifest's). release() lets go and removes the lock file; if the
 * process exits first (a second Ctrl-C exits at once), the file goes with
 * it all the same, as the kernel lets go of the flock.
 */
export class HeldLock {
  private constructor(readonly path: string, private fd: number | null) {
    process.once('exit', this.onExit)
  }

  private readonly onExit = (): void => this.release()

  /** Takes the lock at `path`, or null when another process holds it; throws what opening the lock file threw. */
  static take(path: string, tryLock: (fd: number) => boolean): HeldLock | null {
    const fd = takeLock(path, tryLock)
    return fd === null ? null : new HeldLock(path, fd)
  }

  /** Lets go and removes the lock file; again, it does nothing. Never throws. */
  release(): void {
    if (this.fd === null) return
    process.off('exit', this.onExit)
    dropLock(this.path, this.fd)
    this.fd = null
  }
}
