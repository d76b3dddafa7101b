/**
 * The native addon's exports, declared once: native/addon.cpp registers
 * exactly the names in ADDON_EXPORTS (a test parses its `exports.Set` lines,
 * another loads the built addon and compares), the NativeAddon type is
 * derived from the table, and the check at load walks the same table. A new
 * native call is one entry here and one line there.
 *
 * All calls are synchronous and block the calling thread. System failures
 * throw the class given to setErrorClass; bad arguments throw TypeError
 * (ERR_INVALID_ARG_TYPE) or RangeError (ERR_OUT_OF_RANGE).
 */
import type { BlockInfo, DirectAlignment, IoBackend, LoopStatus } from './types.js'

/** open(2) flag values as this platform defines them, exported by the addon. */
export interface NativeConstants {
  readonly O_RDONLY: number
  readonly O_WRONLY: number
  readonly O_RDWR: number
  readonly O_CREAT: number
  readonly O_EXCL: number
  readonly O_CLOEXEC: number
  readonly O_DIRECT: number
  readonly O_TMPFILE: number
}

/** How native code builds its errors: the signature of SystemError's constructor. */
export type NativeErrorClass = new (
  message: string,
  code: string,
  errno: number,
  syscall: string,
  path?: string,
) => Error

/**
 * One export: what `typeof` says of it at run time, and (in the type only)
 * its TypeScript signature, which NativeAddon takes from here.
 */
export interface AddonExport<T> {
  readonly type: 'function' | 'object'
  /** Never set: carries T to NativeAddon. */
  readonly signature?: T
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any signature: parameters differ per call
const fn = <F extends (...args: any[]) => unknown>(): AddonExport<F> => ({ type: 'function' })
const obj = <T extends object>(): AddonExport<T> => ({ type: 'object' })

/** Every export of native/addon.cpp, with its signature. */
export const ADDON_EXPORTS = {
  /** Once per thread, before any other call, so errors arrive as SystemError. */
  setErrorClass: fn<(ctor: NativeErrorClass) => void>(),
  /** Raw open(2): `flags` from `constants`. */
  open: fn<(path: string, flags: number, mode: number) => number>(),
  close: fn<(fd: number) => void>(),
  /** posix_memalign'ed memory freed by a finalizer; `alignBytes` a power of two. */
  allocAligned: fn<(sizeBytes: number, alignBytes: number) => Buffer>(),
  pread: fn<(fd: number, buf: Uint8Array, bufOffset: number, lengthBytes: number, positionBytes: number) => number>(),
  /** preadv2 with RWF_NOWAIT until the page cache runs out: the bytes read; throws EOPNOTSUPP where the file system cannot. */
  preadCached: fn<(fd: number, buf: Uint8Array, bufOffset: number, lengthBytes: number, positionBytes: number) => number>(),
  /** cachestat(2): pages of the range in the page cache; throws ENOSYS before Linux 6.5, EPERM on a read-only descriptor of another user's file. */
  cachedPages: fn<(fd: number, positionBytes: number, lengthBytes: number) => number>(),
  pwrite: fn<(fd: number, buf: Uint8Array, bufOffset: number, lengthBytes: number, positionBytes: number) => void>(),
  fdatasync: fn<(fd: number) => void>(),
  directAlignment: fn<(fd: number) => DirectAlignment>(),
  blockInfo: fn<(fd: number) => BlockInfo>(),
  zeroRange: fn<(fd: number, offsetBytes: number, lengthBytes: number) => boolean>(),
  preallocate: fn<(fd: number, offsetBytes: number, lengthBytes: number) => boolean>(),
  punchHole: fn<(fd: number, offsetBytes: number, lengthBytes: number) => boolean>(),
  fsBlockBytes: fn<(fd: number) => number>(),
  /** -1 for ENXIO. */
  seekData: fn<(fd: number, offsetBytes: number) => number>(),
  /** -1 for ENXIO. */
  seekHole: fn<(fd: number, offsetBytes: number) => number>(),
  /** Length 0 does nothing. */
  cloneRange: fn<(srcFd: number, srcOffsetBytes: number, dstFd: number, dstOffsetBytes: number, lengthBytes: number) => void>(),
  copyFileRange: fn<(srcFd: number, srcOffsetBytes: number, dstFd: number, dstOffsetBytes: number, lengthBytes: number) => number>(),
  fiemap: fn<(fd: number, offsetBytes: number, lengthBytes: number) => Float64Array>(),
  tryLock: fn<(fd: number) => boolean>(),
  inodeFlags: fn<(fd: number) => number>(),
  setInodeFlags: fn<(fd: number, flags: number) => void>(),
  /** ioctl LOOP_GET_STATUS64; null for a device that is not a loop device or has no file attached. */
  loopStatus: fn<(fd: number) => LoopStatus | null>(),
  /** open(2) flags. */
  constants: obj<NativeConstants>(),
} as const satisfies Record<string, AddonExport<unknown>>

/** The addon's exports (native/addon.cpp), typed from ADDON_EXPORTS. */
export type NativeAddon = {
  readonly [K in keyof typeof ADDON_EXPORTS]: (typeof ADDON_EXPORTS)[K] extends AddonExport<infer T> ? T : never
}

// Every IoBackend call has a native call of the same name behind it
// (NativeBackend adapts arguments and results): an IoBackend method added
// without its native export fails to compile here.
type BackendCallsAreNative = Exclude<keyof IoBackend, 'info'> extends keyof NativeAddon ? true : false
const _backendCallsAreNative: BackendCallsAreNative = true

/** The names ADDON_EXPORTS declares, in table order. */
export const ADDON_EXPORT_NAMES = Object.keys(ADDON_EXPORTS) as ReadonlyArray<keyof NativeAddon>

/**
 * What a loaded module lacks of ADDON_EXPORTS (names whose `typeof` is not
 * the declared one), in table order; empty when it has everything.
 */
export function missingExports(module: object): string[] {
  const m = module as Record<string, unknown>
  return ADDON_EXPORT_NAMES.filter((name) => {
    const v = m[name]
    return ADDON_EXPORTS[name].type === 'object' ? typeof v !== 'object' || v === null : typeof v !== 'function'
  })
}
