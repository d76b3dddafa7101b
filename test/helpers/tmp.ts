import { spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

/** File systems whose files accept O_DIRECT opens. */
const DIRECT_IO_FS_TYPES = new Set(['ext4', 'xfs', 'btrfs'])
const MiB = 1024 * 1024

let baseDir: string | undefined

/** File system type of the mount holding path, from findmnt; '' when unknown. */
export function fsTypeOf(path: string): string {
  const run = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '--target', path], { encoding: 'utf8' })
  return run.status === 0 ? run.stdout.trim() : ''
}

/**
 * Directory that holds the test temp dirs: BLOCKCOPY_TEST_TMPDIR if set, else
 * os.tmpdir() when it is on a disk file system (O_DIRECT works), else /var/tmp.
 */
export function tempBase(): string {
  if (baseDir !== undefined) return baseDir
  const fromEnv = process.env.BLOCKCOPY_TEST_TMPDIR
  if (fromEnv) baseDir = resolve(fromEnv)
  else baseDir = DIRECT_IO_FS_TYPES.has(fsTypeOf(tmpdir())) ? tmpdir() : '/var/tmp'
  return baseDir
}

/** Creates a fresh, empty directory for one test and returns its absolute path. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tempBase(), `blockcopy-${prefix.replace(/[^\w.-]/g, '_')}-`))
}

/** Mount points at or below dir, deepest first (from /proc/self/mounts). */
export function mountsUnder(dir: string): string[] {
  const root = resolve(dir)
  const points = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((point) => point === root || point.startsWith(root + '/'))
  return [...new Set(points)].sort((a, b) => b.length - a.length)
}

/**
 * Removes a temp dir and everything in it. Anything a failed test left behind
 * is released first: mounts below it are lazily unmounted and loop devices
 * backed by files in it are detached, so the removal never recurses into a
 * mounted file system.
 */
export function removeTempDir(dir: string): void {
  const root = resolve(dir)
  for (const point of mountsUnder(root)) spawnSync('umount', ['-l', point], { stdio: 'ignore' })
  const loops = spawnSync('losetup', ['-l', '-n', '--raw', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8' })
  for (const line of loops.status === 0 ? loops.stdout.split('\n') : []) {
    const [name, back] = line.split(' ')
    if (name && back?.startsWith(root + '/')) spawnSync('losetup', ['-d', name], { stdio: 'ignore' })
  }
  rmSync(root, { recursive: true, force: true })
}

/** Fills buf (length a multiple of 4) with xorshift128 output, advancing state. */
function xorshiftFill(buf: Buffer, state: Uint32Array): void {
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2)
  let [x, y, z, w] = [state[0] ?? 0, state[1] ?? 0, state[2] ?? 0, state[3] ?? 0]
  for (let i = 0; i < words.length; i++) {
    const t = x ^ (x << 11)
    x = y
    y = z
    z = w
    w = (w ^ (w >>> 19) ^ t ^ (t >>> 8)) >>> 0
    words[i] = w
  }
  state.set([x, y, z, w])
}

/**
 * Writes sizeBytes of pseudo-random bytes to path (created or truncated).
 * With a seed the content is the same on every run and no two MiB repeat, so
 * a chunk written at the wrong offset never compares equal, and a shorter file
 * is a prefix of a longer one with the same seed. Without a seed it is random.
 */
export function writeRandomFile(path: string, sizeBytes: number, seed?: number): void {
  // Not from the shared pool: the Uint32Array view needs a 4-aligned offset.
  const buf = Buffer.alloc(Math.min(MiB, Math.ceil(Math.max(sizeBytes, 1) / 4) * 4))
  // Seed mixed so that seeds 0, 1, 2... give unrelated streams; never all zero.
  const s = seed === undefined ? 0 : (Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x6a09e667) >>> 0
  const state = Uint32Array.from([s || 1, 0x243f6a88, 0x85a308d3, s ^ 0x13198a2e])
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < sizeBytes; ) {
      if (seed === undefined) randomFillSync(buf)
      else xorshiftFill(buf, state)
      const n = Math.min(buf.length, sizeBytes - done)
      for (let off = 0; off < n; ) off += writeSync(fd, buf, off, n - off, done + off)
      done += n
    }
  } finally {
    closeSync(fd)
  }
}

/** Writes sizeBytes copies of one byte value to path (created or truncated). */
export function writePatternFile(path: string, sizeBytes: number, byte: number): void {
  const buf = Buffer.alloc(Math.min(MiB, Math.max(sizeBytes, 1)), byte)
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < sizeBytes; ) {
      const n = Math.min(buf.length, sizeBytes - done)
      for (let off = 0; off < n; ) off += writeSync(fd, buf, off, n - off, done + off)
      done += n
    }
  } finally {
    closeSync(fd)
  }
}

/** Which bytes cmpFiles compares; without length it compares to the end of both files. */
export interface CmpRange {
  aOffset?: number
  bOffset?: number
  length?: number
}

/**
 * Compares two files (or devices) with the real `cmp` tool, as
 * `cmp -n LEN -i SKIP1:SKIP2 a b`; true when the ranges are byte-identical.
 * Throws when cmp cannot read a file (its exit code 2), with its message.
 */
export function cmpFiles(a: string, b: string, range: CmpRange = {}): boolean {
  const args = ['-i', `${range.aOffset ?? 0}:${range.bOffset ?? 0}`]
  if (range.length !== undefined) args.push('-n', String(range.length))
  const run = spawnSync('cmp', [...args, a, b], { encoding: 'utf8' })
  if (run.status === 0) return true
  if (run.status === 1) return false
  const why = run.error?.message ?? (run.stderr.trim() || `exit ${run.status}`)
  throw new Error(`cmp ${args.join(' ')} ${a} ${b} failed: ${why}`)
}

/** Reads length bytes at offset; the result is shorter only at end of file. */
export function readRange(path: string, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length)
  const fd = openSync(path, 'r')
  try {
    let done = 0
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done)
      if (n === 0) break
      done += n
    }
    return buf.subarray(0, done)
  } finally {
    closeSync(fd)
  }
}
