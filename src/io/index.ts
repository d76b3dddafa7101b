// io/: the I/O backend at syscall level: the native addon or node:fs, alignment, durability (fdatasync, rename), locks.
/**
 * The I/O backend for this thread: the native addon when it loads, else
 * node:fs. Workers call loadBackend() once at start-up and keep the result.
 */
import { isMainThread } from 'node:worker_threads'

import { FsBackend } from './fs-backend.js'
import { loadNativeBackend } from './native.js'
import type { IoBackend } from './types.js'

export type { BackendInfo, BlockInfo, DirectAlignment, IoBackend, LoopStatus, OpenOptions } from './types.js'
export { alignDown, alignUp, isAligned, isPowerOfTwo, splitAligned } from './align.js'
export type { AlignedSegment } from './align.js'
export { FsBackend } from './fs-backend.js'
export { NativeBackend } from './native.js'

/** Options of loadBackend. */
export interface LoadBackendOptions {
  /** 'native' (default): the addon if it loads, else node:fs. 'fs': node:fs regardless. */
  prefer?: 'native' | 'fs'
}

// Per thread, like the addon's own state: a backend is never shared across threads.
let preferred: IoBackend | undefined
let fsOnly: FsBackend | undefined
let warned = false

/**
 * The backend for this thread, created on first call and cached. Its `info`
 * says which one it is and, for 'fs', why. When the addon fails to load, the
 * main thread emits one process warning (code BLOCKCOPY_NO_NATIVE); workers
 * stay quiet so the reason is logged once. A requested fallback
 * (BLOCKCOPY_IO=fs, prefer: 'fs') is not warned about.
 */
export function loadBackend(options: LoadBackendOptions = {}): IoBackend {
  if (options.prefer === 'fs') {
    fsOnly ??= new FsBackend('fs backend requested (prefer: fs)')
    return fsOnly
  }
  if (preferred !== undefined) return preferred
  const native = loadNativeBackend()
  if (typeof native !== 'string') {
    preferred = native
    return preferred
  }
  preferred = new FsBackend(native)
  if (isMainThread && !warned && native !== 'BLOCKCOPY_IO=fs') {
    warned = true
    process.emitWarning(`blockcopy: using node:fs without O_DIRECT: ${native}`, { code: 'BLOCKCOPY_NO_NATIVE' })
  }
  return preferred
}
