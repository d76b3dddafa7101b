import { SystemError } from '../errors.js'

/**
 * Remembers which path each descriptor was opened from, so that errors from
 * calls that only see a descriptor (pread, fdatasync, ioctl) still name the
 * file, as Node's fs errors do. One table per backend instance, hence per
 * thread; a thread only ever closes the descriptors it opened.
 */
export class FdPaths {
  readonly #paths = new Map<number, string>()

  set(fd: number, path: string): void {
    this.#paths.set(fd, path)
  }

  delete(fd: number): void {
    this.#paths.delete(fd)
  }

  /** `err` with the descriptor's path added when it has none; other errors pass through. */
  annotate(err: unknown, fd: number): unknown {
    const path = this.#paths.get(fd)
    if (!(err instanceof SystemError) || err.path !== undefined || path === undefined) return err
    const withPath = new SystemError(`${err.message} '${path}'`, err.code, err.errno, err.syscall, path)
    if (err.stack !== undefined) withPath.stack = err.stack.replace(err.message, withPath.message)
    return withPath
  }
}
