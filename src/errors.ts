/**
 * Every error blockcopy raises has a stable string `code`. The engine's own
 * codes follow libstoragemgmt's names; errors from the operating system keep
 * Node's shape (`code` is the errno name, plus `errno`, `syscall`, `path`).
 */

/** Codes the engine itself raises. */
export type EngineErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND_VOLUME'
  | 'NO_SUPPORT'
  | 'NAME_CONFLICT'
  | 'VERIFY_MISMATCH'
  | 'JOB_NOT_FOUND'
  | 'CLIENT_DESTROYED'
  | 'BAD_MANIFEST'
  | 'MANIFEST_MISMATCH'
  | 'MAP_MISMATCH'
  | 'BAD_RECORD'

/** An error of the engine's own, such as a rejected argument. */
export class BlockcopyError extends Error {
  readonly code: string
  /** The option or argument at fault, when there is one. */
  readonly argument?: string
  constructor(code: EngineErrorCode, message: string, argument?: string) {
    super(message)
    this.name = 'BlockcopyError'
    this.code = code
    if (argument !== undefined) this.argument = argument
  }
}

/** An error from a system call, shaped like Node's own fs errors. */
export class SystemError extends Error {
  readonly code: string
  readonly errno: number
  readonly syscall: string
  readonly path?: string
  constructor(message: string, code: string, errno: number, syscall: string, path?: string) {
    super(message)
    this.name = 'SystemError'
    this.code = code
    this.errno = errno
    this.syscall = syscall
    if (path !== undefined) this.path = path
  }
}

/** Errno names by number on Linux, for errors that arrive with a number only. */
const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 9: 'EBADF', 12: 'ENOMEM',
  13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 18: 'EXDEV', 19: 'ENODEV', 20: 'ENOTDIR',
  21: 'EISDIR', 22: 'EINVAL', 24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY', 27: 'EFBIG',
  28: 'ENOSPC', 29: 'ESPIPE', 30: 'EROFS', 61: 'ENODATA', 95: 'EOPNOTSUPP', 122: 'EDQUOT',
}

/** The errno name for a positive errno number (`EIO` for 5). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[Math.abs(errno)] ?? `E${Math.abs(errno)}`
}

/**
 * Normalises anything thrown by fs or the addon into a SystemError.
 * Node's fs errors carry a negative `errno`; ours is always positive.
 */
export function toSystemError(err: unknown, syscall: string, path?: string): SystemError {
  if (err instanceof SystemError) return err
  const e = err as { code?: unknown; errno?: unknown; syscall?: unknown; path?: unknown; message?: unknown }
  const errno = typeof e.errno === 'number' ? Math.abs(e.errno) : 5
  const code = typeof e.code === 'string' ? e.code : errnoName(errno)
  const sc = typeof e.syscall === 'string' ? e.syscall : syscall
  const p = typeof e.path === 'string' ? e.path : path
  const raw = typeof e.message === 'string' ? e.message : String(err)
  // Node's own messages already start with the code ("ENOENT: no such file…").
  const message = raw.startsWith(`${code}:`) ? raw : `${code}: ${raw}`
  return new SystemError(message, code, errno, sc, p)
}
