import { join } from 'node:path'
import { loadNativeBackend, type NativeBackend } from '../../src/io/native.js'
import { mountBtrfs, mountXfs, type ImageMount } from './mounts.js'
import { logSkip } from './root.js'
import { makeTempDir, removeTempDir } from './tmp.js'

/** The native backend; throws (failing the test) when the addon did not load. */
export function nativeBackend(): NativeBackend {
  const backend = loadNativeBackend()
  if (typeof backend === 'string') throw new Error(`native backend unavailable: ${backend}`)
  return backend
}

/** Runs fn with a fresh temporary directory on a disk file system, removed afterwards. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = makeTempDir(prefix)
  try {
    await fn(dir)
  } finally {
    removeTempDir(dir)
  }
}

/** Runs fn on a fresh XFS (reflink) or btrfs image mounted under dir, or logs why it cannot. */
export async function withImageFs(dir: string, kind: 'xfs' | 'btrfs', fn: (mnt: ImageMount) => Promise<void> | void): Promise<void> {
  const mount = kind === 'xfs' ? mountXfs : mountBtrfs
  const mnt = await mount(join(dir, `${kind}.img`), join(dir, kind), 320 * 1024 * 1024)
  if (typeof mnt === 'string') return logSkip(mnt)
  try {
    await fn(mnt)
  } finally {
    await mnt.unmount()
  }
}
