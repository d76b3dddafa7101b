// caps/: what a path can do (its capabilities and replication block size), probed for real on scratch files; read by replicate and the caps command.
/**
 * Capabilities and the replication block size of a path
 * (LSM_CAP_VOLUME_COPY_RANGE*, lsm_volume_replicate_range_block_size),
 * probed for real: every answer comes from the kernel doing the operation on
 * unnamed scratch files beside the path, or, for block devices, from calls
 * that write nothing. Nothing visible is created and nothing else is written.
 * Main thread; synchronous (a probe costs a few system calls on small files).
 */
import fs from 'node:fs'
import path from 'node:path'

import { BlockcopyError } from '../errors.js'
import type { BackendInfo, IoBackend } from '../io/types.js'
import { creationPath, inspectPath, type PathFacts } from '../files/regions.js'
import {
  noNative, probeClone, probeClonePair, probeCopyFileRange, probeCopyFileRangeDevice, probeDirect, probeSparse, probeZeroOut,
  probeZeroOutDevice,
} from './caps-probes.js'
import { Scratch } from '../replicate/scratch.js'
import { extentMapsProve } from '../incremental/extent-compare.js'

/**
 * Whether an operation works here; `reason` (present exactly when it does
 * not) says why not, with the errno the kernel gave where it gave one.
 */
export type Support<T extends object = object> = (T & { supported: true }) | (T & { supported: false; reason: string })

/** Where direct-I/O alignment came from: statx, the device, the file system block size, or nowhere. */
export type AlignSource = 'statx DIOALIGN' | 'BLKSSZGET' | 'f_bsize' | 'none'

/** O_DIRECT, and the alignment it needs (both 0 when unsupported). */
export type DirectSupport = Support<{ memAlignBytes: number; offsetAlignBytes: number; alignSource: AlignSource }>

/** Reflink (FICLONERANGE): `blockBytes` is what offsets and lengths must be multiples of (0 when unsupported). */
export type CloneSupport = Support<{ blockBytes: number }>

/** How zero() zeroes here: an offload, or plain writes of zeros when there is none. */
export type ZeroOutMethod = 'BLKZEROOUT' | 'FALLOC_FL_ZERO_RANGE' | 'write zeros'

/** Zero-out offload; `method` is what zero() uses on this path. */
export type ZeroOutSupport = Support<{ method: ZeroOutMethod }>

/** What one path supports, and why not. */
export interface Capabilities {
  /** The path as given. */
  path: string
  /** False for a file still to be created: its directory's file system was probed. */
  exists: boolean
  kind: 'file' | 'blockDevice'
  /** File size (0 when missing), or the device size (BLKGETSIZE64). */
  sizeBytes: number
  /** BLKSSZGET on devices; 512 for files. */
  logicalBlockBytes: number
  /** BLKPBSZGET on devices; st_blksize for files. */
  physicalBlockBytes: number
  /** lsm_volume_replicate_range_block_size: the clone block size where clone works, else logicalBlockBytes. */
  replicateBlockBytes: number
  /** The I/O backend that was probed (the same one jobs use). */
  io: BackendInfo
  direct: DirectSupport
  clone: CloneSupport
  copyFileRange: Support
  zeroOut: ZeroOutSupport
  sparse: Support
  /** An incremental copy from this file can keep a reflink baseline (copy `baseline`; the key keeps its old name): clone, and extent maps that prove (XFS, btrfs). */
  checkpoint: Support
}

const FILE_LOGICAL_BYTES = 512

/** Size and block sizes of a checked path; a missing file is 0 bytes with its directory's st_blksize. */
function geometry(io: IoBackend, facts: PathFacts): { sizeBytes: number; logical: number; physical: number; rdev: number } {
  if (!facts.exists) {
    const dir = path.dirname(path.resolve(facts.path))
    return { sizeBytes: 0, logical: FILE_LOGICAL_BYTES, physical: fs.statSync(dir).blksize, rdev: 0 }
  }
  const fd = io.open(facts.path, { write: false, create: false, direct: false })
  try {
    const info = io.blockInfo(fd)
    return { sizeBytes: info.sizeBytes, logical: info.logicalBlockBytes, physical: info.physicalBlockBytes, rdev: info.dev }
  } finally {
    io.close(fd)
  }
}

/** Scratch files beside a file: in its directory, and only if that is its file system. */
function scratchFor(facts: PathFacts): Scratch {
  // Beside the file itself: through a symlink, in the directory it points into.
  const dir = path.dirname(facts.exists ? fs.realpathSync(facts.path) : creationPath(facts.path))
  return new Scratch(dir, facts.exists ? fs.statSync(facts.path).dev : undefined)
}

/** Runs fn with scratch files beside a file, and closes (so frees) them all afterwards. */
function withScratch<T>(facts: PathFacts, fn: (scratch: Scratch) => T): T {
  const scratch = scratchFor(facts)
  try {
    return fn(scratch)
  } finally {
    scratch.close()
  }
}

function probeChecked(io: IoBackend, facts: PathFacts): Capabilities {
  const g = geometry(io, facts)
  const base = {
    path: facts.path, exists: facts.exists, kind: facts.isBlockDevice ? 'blockDevice' as const : 'file' as const,
    sizeBytes: g.sizeBytes, logicalBlockBytes: g.logical, physicalBlockBytes: g.physical,
  }
  if (facts.isBlockDevice) {
    return {
      ...base, replicateBlockBytes: g.logical, io: io.info,
      direct: probeDirect(io, facts, null),
      clone: { supported: false, blockBytes: 0, reason: 'block devices have no reflink' },
      copyFileRange: probeCopyFileRangeDevice(io, facts.path),
      zeroOut: probeZeroOutDevice(io, g.rdev),
      sparse: { supported: false, reason: 'a block device has no holes' },
      checkpoint: { supported: false, reason: 'a block device cannot be cloned' },
    }
  }
  return withScratch(facts, (scratch) => {
    const clone = probeClone(io, scratch)
    return {
      ...base, replicateBlockBytes: clone.supported ? clone.blockBytes : g.logical, io: io.info,
      direct: probeDirect(io, facts, scratch),
      clone,
      copyFileRange: probeCopyFileRange(io, scratch),
      zeroOut: probeZeroOut(io, scratch),
      sparse: probeSparse(io, scratch),
      checkpoint: baselineSupport(io, facts, clone),
    }
  })
}

/** A baseline needs clones, extent maps that give device addresses, and the addon's FIEMAP. */
function baselineSupport(io: IoBackend, facts: PathFacts, clone: Support): Support {
  if (!clone.supported) return { supported: false, reason: `no clone: ${clone.reason}` }
  const type = fs.statfsSync(facts.exists ? facts.path : path.dirname(path.resolve(facts.path))).type
  if (!extentMapsProve(type)) return { supported: false, reason: `extent maps on this file system (type 0x${type.toString(16)}) prove nothing; XFS or btrfs only` }
  if (!io.fiemap) return { supported: false, reason: 'needs the native addon (FIEMAP)' }
  return { supported: true }
}

/**
 * Probes one path: an existing regular file or block device, or a file still
 * to be created (its directory must exist: else NOT_FOUND_VOLUME naming the
 * path and `argument`). Directories and other kinds are INVALID_ARGUMENT.
 */
export function probeCapabilities(io: IoBackend, p: string, argument = 'path'): Capabilities {
  return probeChecked(io, inspectPath(io, p, argument, true))
}

/**
 * Probes every path, after checking them all, so bad input is refused before
 * any scratch file exists. `nameOf(i)` names path i in errors ('paths[i]').
 */
export function capabilitiesOf(
  io: IoBackend, paths: unknown, nameOf: (index: number) => string = (i) => `paths[${i}]`,
): Capabilities[] {
  if (!Array.isArray(paths)) {
    throw new BlockcopyError('INVALID_ARGUMENT', `paths: must be an array of paths, got ${typeof paths}`, 'paths')
  }
  const facts = paths.map((p: unknown, i) => inspectPath(io, p as string, nameOf(i), true))
  return facts.map((f) => probeChecked(io, f))
}

/** Only the clone probe, for callers (replicate) that need nothing else. */
export function cloneSupport(io: IoBackend, p: string, argument = 'path'): CloneSupport {
  const facts = inspectPath(io, p, argument, true)
  if (facts.isBlockDevice) return { supported: false, blockBytes: 0, reason: 'block devices have no reflink' }
  return withScratch(facts, (scratch) => probeClone(io, scratch))
}

/**
 * Whether `lengthBytes` of `srcPath` at `srcOffset` (one block, or the
 * source's partial last one) clone into a file beside `dest`
 * (src/caps/caps-probes.ts probeClonePair): null, or why not.
 */
export function clonePairRefusal(io: IoBackend, srcPath: string, srcOffset: number, lengthBytes: number, dest: PathFacts): string | null {
  try {
    return withScratch(dest, (scratch) => probeClonePair(io, srcPath, srcOffset, lengthBytes, scratch, dest.exists ? dest.path : null))
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

/**
 * lsm_volume_replicate_range_block_size: the clone block size where clones
 * work (the file system block size: 4096 on XFS and btrfs), else the
 * logical block size (BLKSSZGET on devices, 512 for files).
 */
export function replicateBlockSize(io: IoBackend, p: string, argument = 'path'): number {
  const facts = inspectPath(io, p, argument, true)
  const logical = geometry(io, facts).logical
  if (facts.isBlockDevice || noNative(io)) return logical
  const clone = withScratch(facts, (scratch) => probeClone(io, scratch))
  return clone.supported ? clone.blockBytes : logical
}
