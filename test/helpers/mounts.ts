import { execFile, spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, ftruncateSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { promisify } from 'node:util'

import { attachLoop, detachLoop } from './loop.js'
import { skipUnlessRoot } from './root.js'

const run = promisify(execFile)
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))
const MiB = 1024 * 1024

/** A file system on a loop-attached image file, mounted on dir. */
export interface ImageMount {
  dir: string
  /** The loop device, '/dev/loopN'. */
  device: string
  image: string
  fsType: 'xfs' | 'btrfs' | 'ext4'
  /** Unmounts dir and detaches the loop device; safe to call twice. */
  unmount(): Promise<void>
}

/** stderr of a failed child process, or its message. */
function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string }
  return (e.stderr?.trim() || e.message) ?? String(err)
}

/** True when dir is a mount point right now (per /proc/self/mounts). */
export function isMountPoint(dir: string): boolean {
  const target = resolve(dir)
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === target)
}

/** True when the named program is on PATH or in an sbin directory. */
export function hasProgram(name: string): boolean {
  const path = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`
  return spawnSync('sh', ['-c', `command -v ${name}`], { env: { ...process.env, PATH: path } }).status === 0
}

/** Mounts a tmpfs of sizeBytes on dir (created if missing); needs root. */
export async function mountTmpfs(dir: string, sizeBytes: number): Promise<void> {
  mkdirSync(dir, { recursive: true })
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir])
  } catch (err) {
    throw new Error(`mount -t tmpfs on ${dir} failed: ${stderrOf(err)}`)
  }
}

/**
 * Unmounts dir. While it is busy (a descriptor still closing) it retries for
 * about a second, then detaches it lazily (`umount -l`) so a test never hangs.
 */
export async function unmount(dir: string): Promise<void> {
  for (let attempt = 1; isMountPoint(dir); attempt++) {
    try {
      await run('umount', [dir])
    } catch (err) {
      if (attempt < 10 && /busy/i.test(stderrOf(err))) {
        await sleep(100)
        continue
      }
      await run('umount', ['-l', dir])
    }
  }
}

/** The Debian package of each file system's mkfs, named when a test skips without it. */
export const MKFS_PACKAGES = { ext4: 'e2fsprogs', xfs: 'xfsprogs', btrfs: 'btrfs-progs' } as const

/** Creates a sparse image, makes a file system on it, loop-attaches and mounts it. */
async function mountImage(
  fsType: 'xfs' | 'btrfs' | 'ext4',
  mkfsArgs: string[],
  imageFile: string,
  dir: string,
  sizeBytes: number,
  mountOptions: string[] = [],
): Promise<ImageMount | string> {
  const mkfs = `mkfs.${fsType}`
  const why = skipUnlessRoot(`mounts ${fsType}`)
  if (why) return why
  if (!hasProgram(mkfs)) return `${mkfs} is not installed (apt-get install ${MKFS_PACKAGES[fsType]})`
  const fd = openSync(imageFile, 'w')
  try {
    ftruncateSync(fd, sizeBytes)
  } finally {
    closeSync(fd)
  }
  try {
    await run(mkfs, [...mkfsArgs, imageFile], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } })
  } catch (err) {
    return `${mkfs} failed: ${stderrOf(err)}`
  }
  mkdirSync(dir, { recursive: true })
  const device = await attachLoop(imageFile)
  try {
    await run('mount', ['-t', fsType, ...(mountOptions.length > 0 ? ['-o', mountOptions.join(',')] : []), device, dir])
  } catch (err) {
    await detachLoop(device)
    const message = stderrOf(err)
    if (/unknown filesystem type/i.test(message)) return `the kernel cannot mount ${fsType}: ${message}`
    throw new Error(`mount -t ${fsType} ${device} ${dir} failed: ${message}`)
  }
  let mounted = true
  return {
    dir,
    device,
    image: imageFile,
    fsType,
    async unmount() {
      if (!mounted) return
      mounted = false
      await unmount(dir)
      await detachLoop(device)
    },
  }
}

/**
 * Makes an XFS with reflink (or, with reflink false, without) on a sparse
 * image of at least 320 MiB (mkfs.xfs refuses less than 300 MB) and mounts
 * it on dir. Returns a skip reason instead when not root or mkfs.xfs is missing.
 */
export async function mountXfs(imageFile: string, dir: string, sizeBytes: number, reflink = true): Promise<ImageMount | string> {
  return mountImage('xfs', ['-q', '-f', '-m', `reflink=${reflink ? 1 : 0}`], imageFile, dir, Math.max(sizeBytes, 320 * MiB))
}

/**
 * Makes a btrfs on a sparse image of at least 256 MiB and mounts it on dir.
 * Returns a skip reason instead when not root or mkfs.btrfs is missing.
 */
export async function mountBtrfs(imageFile: string, dir: string, sizeBytes: number): Promise<ImageMount | string> {
  return mountImage('btrfs', ['-q', '-f'], imageFile, dir, Math.max(sizeBytes, 256 * MiB))
}

/**
 * Makes an ext4 on a sparse image and mounts it on dir with `options` (say
 * data=journal). Returns a skip reason instead when not root or mkfs.ext4 is missing.
 */
export async function mountExt4(imageFile: string, dir: string, sizeBytes: number, options: string[] = []): Promise<ImageMount | string> {
  return mountImage('ext4', ['-q', '-F'], imageFile, dir, sizeBytes, options)
}
