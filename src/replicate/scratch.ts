import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import { toSystemError } from '../errors.js'
import { O_TMPFILE } from '../files/regions.js'

/** Thrown when no scratch file can be made; `reason` says why, for a capability's reason. */
export class NotProbed extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'NotProbed'
  }
}

// Errnos meaning "this file system or kernel has no O_TMPFILE": EOPNOTSUPP (95,
// which node:fs names ENOTSUP) from file systems without ->tmpfile such as
// FUSE, EISDIR (21) from kernels that read the flag as O_DIRECTORY, EINVAL
// (22) where O_TMPFILE cannot be combined with another flag.
const NO_TMPFILE = new Set([95, 21, 22])

/**
 * Unnamed scratch files in one directory, for capability probes. Each is an
 * O_TMPFILE, or where the file system has none, a hidden file unlinked the
 * moment it is created: nothing is ever visible in the directory, and the
 * blocks go back when close() runs. Main thread only; not shared.
 */
export class Scratch {
  readonly #fds: number[] = []

  /**
   * `dir`: where the files go. `dev`: the st_dev they must be on (an
   * existing file's), so a probe never answers for another file system.
   */
  constructor(readonly dir: string, private readonly dev?: number) {}

  /** A new empty read-write scratch file; `extraFlags` such as O_DIRECT. Throws NotProbed. */
  create(extraFlags = 0): number {
    const flags = fs.constants.O_RDWR | extraFlags
    let fd: number
    try {
      fd = fs.openSync(this.dir, O_TMPFILE | flags, 0o600)
    } catch (err) {
      const e = toSystemError(err, 'open', this.dir)
      if (!NO_TMPFILE.has(e.errno)) throw this.#refused(e.code, 'open O_TMPFILE')
      fd = this.#hidden(flags)
    }
    this.#fds.push(fd)
    if (this.dev !== undefined && fs.fstatSync(fd).dev !== this.dev) {
      throw new NotProbed(`not probed: scratch files in ${this.dir} land on another file system than the file`)
    }
    return fd
  }

  /** Closes every scratch file; their blocks are freed with the last descriptor. */
  close(): void {
    for (const fd of this.#fds.splice(0)) {
      try {
        fs.closeSync(fd)
      } catch {
        // An unnamed file cannot be leaked by a failed close; nothing to do.
      }
    }
  }

  #hidden(flags: number): number {
    const name = path.join(this.dir, `.blockcopy-caps-${process.pid}-${randomBytes(6).toString('hex')}`)
    let fd: number
    try {
      fd = fs.openSync(name, flags | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
    } catch (err) {
      throw this.#refused(toSystemError(err, 'open', name).code, 'open')
    }
    try {
      fs.unlinkSync(name)
    } catch (err) {
      fs.closeSync(fd)
      try {
        fs.unlinkSync(name)
      } catch {
        // Already gone or never removable: report the first failure.
      }
      throw this.#refused(toSystemError(err, 'unlink', name).code, 'unlink')
    }
    // Some FUSE daemons serve an unlinked file by its name, which is gone now.
    try {
      fs.fstatSync(fd)
    } catch (err) {
      fs.closeSync(fd)
      const code = toSystemError(err, 'fstat').code
      throw new NotProbed(`not probed: ${this.dir} has no O_TMPFILE, and an open scratch file is lost once unlinked (${code} from fstat)`)
    }
    return fd
  }

  #refused(code: string, syscall: string): NotProbed {
    return new NotProbed(`not probed: cannot make a scratch file in ${this.dir} (${code} from ${syscall})`)
  }
}
