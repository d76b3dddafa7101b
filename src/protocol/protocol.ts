// protocol/: what crosses between the main thread and the workers: task and result messages (protocol.ts) and the shared-memory ordering between chunks (order.ts).
/**
 * Every message that crosses between the main thread and the chunk workers.
 * Numbers, strings, plain arrays, digests as bytes and SharedArrayBuffers
 * only: data never crosses a thread boundary, descriptors and results do.
 * Each task kind has its result type (TaskResults); the main thread checks
 * a result's kind against its task's where the pool hands it back.
 */

/** How each chunk is checked: 0 none, 1 hash what was read, 2 also read every destination back. */
export type VerifyLevel = 0 | 1 | 2

/** Passed once to every worker as Piscina's workerData. */
export interface WorkerConfig {
  /** Size of each of the worker's two aligned buffers (chunk data + staging/read-back). */
  bufferBytes: number
  /** Alignment of those buffers; a multiple of every direct-I/O alignment in use. */
  pageBytes: number
  /** 'fs' forces the node:fs backend (no O_DIRECT) in the worker. */
  io: 'native' | 'fs'
}

/**
 * One open file as a worker sees it. Descriptors are opened and closed by
 * the main thread for the whole job; workers only use them.
 */
export interface FileRef {
  path: string
  /** Buffered descriptor (read-only for a source, read-write for a destination). */
  fd: number
  /** O_DIRECT descriptor on the same file, or -1 when direct I/O is off for it. */
  directFd: number
  /** Direct I/O alignment for offsets, lengths and buffer addresses (divides pageBytes); 0 when off. */
  alignBytes: number
  /**
   * Reads take the unaligned head and tail of a range with O_DIRECT too,
   * through the aligned blocks around them, instead of from the page cache.
   * Set for a block device with direct I/O on: whatever changes the device
   * beneath this host's cache (another host on a shared LUN, DRBD, a loop
   * device's backing file) leaves that cache stale, and a verify that read
   * a range's edges from it called a changed device identical.
   */
  uncachedEdges: boolean
}

/** A file and the absolute offset of this chunk's first byte in it. */
export interface ChunkEnd extends FileRef {
  offsetBytes: number
}

export interface CopyTask {
  kind: 'copy'
  chunkIndex: number
  lengthBytes: number
  src: ChunkEnd
  dests: ChunkEnd[]
  verify: VerifyLevel
  /**
   * When set, writes happen in chunk order: slot 0 holds the index of the
   * chunk allowed to write next. The scheduler dispatches chunks in index order.
   */
  writeTurn: SharedArrayBuffer | null
  /** The source is a regular file: a chunk that SEEK_DATA shows to be all hole is not read (src/chunk/zero-runs.ts). */
  srcHoles?: boolean
  /**
   * Sparse copy: runs of zeros left unwritten. 'auto': the source's holes,
   * only where a destination is a hole already; 'always': every zero run of
   * 64 KiB or more, source holes included, punched (or zeroed out) where a
   * destination is not a hole. Per destination, the first byte known to be a
   * hole already (the job extended the file from there), or -1 (a block
   * device, or none).
   */
  sparse?: { mode: 'auto' | 'always'; holeFromBytes: number[] } | null
  /**
   * Incremental copy: the chunk's digest in the destination's manifest
   * (null: write it whatever it holds) and the manifest's algorithm. A chunk
   * whose digest equals it is not written.
   */
  since?: { digest: DigestBytes | null; algo: HashAlgo } | null
  /**
   * Bad-block handling (ignoreErrors, retryBad): a failed read is retried a
   * logical block at a time (src/chunk/scrape.ts), each block up to `tries`
   * times; unreadable blocks are zero-filled when `fill`, else left as the
   * destination had them.
   */
  badBlocks?: { blockBytes: number; tries: number; fill: boolean } | null
  /** Destinations (bit i) that failed in earlier chunks and take no more writes. */
  skipDests?: number
}

export interface ZeroTask {
  kind: 'zero'
  chunkIndex: number
  lengthBytes: number
  dests: ChunkEnd[]
  /** 2: read every destination back and check it is zero. */
  verify: VerifyLevel
}

/**
 * Replication: many (source offset, destination offset, length) pieces of
 * one source and one destination (possibly the same file), batched so that
 * 100,000 small ranges are not 100,000 round trips. All pieces are read
 * before any is written.
 */
export interface RangesTask {
  kind: 'ranges'
  chunkIndex: number
  /** Sum of the pieces' lengths. */
  lengthBytes: number
  src: FileRef
  dest: FileRef
  /** Flat triples: srcOffset, dstOffset, length, srcOffset, ... */
  pieces: number[]
  /**
   * 'clone' shares extents (FICLONERANGE) instead of moving bytes. 'check'
   * verifies clones made by earlier tasks of the job: it syncs the
   * destination, then reads each piece back from it and hashes it (verify
   * 1), or reads the source's piece, hashes that and compares the
   * destination's with it (verify 2), exactly as a copy of the same pieces
   * would hash and read back.
   */
  method: 'copy' | 'clone' | 'check'
  verify: VerifyLevel
  /** How this task is ordered against others (src/protocol/order.ts), or null when it is not. */
  order: TaskOrder | null
  /**
   * A staging task (it copies sources aside to a scratch file): the real
   * destination, and for each piece where its bytes finally go. A failure
   * in the scratch file is reported there, as those destination bytes not
   * written, never at scratch offsets.
   */
  staging?: { destPath: string; destOffsets: number[] }
  /**
   * Clones that are checked: one byte per range of the job (its index in
   * the caller's list) in `flags`, and the range of each piece of this task.
   * A clone task sets the flag of each range it failed to clone; a check
   * task does not check those pieces (their failure is already reported),
   * and counts as failed itself.
   */
  cloneRanges?: { flags: SharedArrayBuffer; ofPiece: number[] }
}

/**
 * Ordering through a shared barrier of tasks done in index order. In place
 * (destinations overlapping sources of one file): each task marks after
 * reading and waits for all earlier tasks before writing, so no source byte
 * is overwritten before it is read. Staged (cycles): first tasks copy the
 * sources to a scratch file and mark after writing; the rest wait for all of
 * them before reading the scratch file, and write nothing if one failed.
 */
export interface TaskOrder {
  barrier: SharedArrayBuffer
  /** Tasks that must be done first. */
  waitFor: number
  waitBefore: 'read' | 'write' | 'none'
  markAfter: 'read' | 'write'
}

/** Digest algorithms of the xxh3 family: XXH3 64-bit and XXH3 128-bit (xxhsum -H3, -H2). */
export type HashAlgo = 'xxh3' | 'xxh128'

/**
 * Digests as bytes: each one's canonical big-endian bytes (xxhsum's order,
 * the hex digits' order; 8 for xxh3, 16 for xxh128), end to end, as a
 * manifest packs them. Always a view of its own buffer: structured clone
 * copies the whole ArrayBuffer behind a view, so a view into a manifest or
 * WebAssembly memory would carry all of it. Hex only where printed or written.
 */
export type DigestBytes = Uint8Array

/**
 * Manifests: reads consecutive manifest chunks of a file or device and
 * hashes each; writes nothing. The result's digest is the chunks' digests
 * end to end, in order.
 */
export interface HashTask {
  kind: 'hash'
  chunkIndex: number
  lengthBytes: number
  src: ChunkEnd
  algo: HashAlgo
  /** Size of each manifest chunk in the task (the last may be shorter). */
  chunkBytes: number
  /** Direct mode 'auto': chunks the page cache holds are read from it (src/chunk/hash.ts); 'always' reads the device. */
  probeCache: boolean
}

/**
 * Verification: reads one chunk of the source (or, with a manifest, takes
 * its expected digest) and the same bytes of every replica, and says where
 * each replica differs. Writes nothing.
 */
export interface CompareTask {
  kind: 'compare'
  chunkIndex: number
  /** First byte of the chunk, the same in the source and every replica. */
  offsetBytes: number
  lengthBytes: number
  /** Null in manifest mode. */
  src: FileRef | null
  replicas: FileRef[]
  /** Bytes of the chunk each replica has (shorter when the replica ends inside it). */
  replicaLengths: number[]
  /** Manifest mode: the chunk's digest in the manifest, and its algorithm. */
  expect: { digest: DigestBytes; algo: HashAlgo } | null
}

/** Answers which I/O backend a worker loaded, and in which thread. */
export interface ProbeTask {
  kind: 'probe'
  /** Workers count themselves in slot 0 and wait until slot 0 reaches `parties`. */
  rendezvous: SharedArrayBuffer
  parties: number
}

/**
 * An incremental copy's baseline (src/incremental/baseline.ts): clones the
 * whole source into `clone` (FICLONERANGE), fsyncs it, and maps the extents
 * of the clone and of the last baseline. In a worker, so the main thread
 * never waits on the clone, its sync or FIEMAP's flush.
 */
export interface BaselineTask {
  kind: 'baseline'
  /** The source, open read-only. */
  src: { path: string; fd: number }
  /** This run's clone, open read-write, empty or holding a first block. */
  clone: { path: string; fd: number }
  /** The last baseline, whose extent map is compared; fd -1 when it is not (none, or not trusted). */
  old: { path: string; fd: number }
}

/** What a baseline task did: the error as data, or the clone's size and both extent maps (flat quads, as fiemap gives them). */
export interface BaselineResult {
  kind: 'baseline'
  error: { code: string; errno: number; syscall: string; message: string; path: string } | null
  sizeBytes: number
  cloneExtents: number[]
  /** Null when `old.fd` was -1. */
  oldExtents: number[] | null
}

export type Task = CopyTask | ZeroTask | RangesTask | HashTask | CompareTask | ProbeTask

/** Everything the pool runs: a job's chunk tasks, and the tasks a job runs before its chunks (a baseline). */
export type PoolTask = Task | BaselineTask

/** The tasks of a job's chunks (every kind but the probe). */
export type ChunkTask = Exclude<Task, ProbeTask>

/** Codes the engine gives a range itself, where no system call failed. */
export type EngineRangeCode =
  /** A read ended before the range did (the file is shorter than it was). */
  | 'SHORT_READ'
  /** Read-back found other bytes than were written. */
  | 'VERIFY_MISMATCH'
  /** Not written: this destination had failed before and takes no more writes. */
  | 'DEST_STOPPED'
  /** Unreadable blocks an earlier run recorded in the map. */
  | 'BAD_BLOCK'
  /** The worker thread died or threw: a bug or a crash, not the file's fault. */
  | 'WORKER_FAILED'
  /** Replicate: a piece staged through a scratch file did not reach its destination. */
  | 'STAGING_FAILED'

/** A system call's failure: an errno name (EIO, ENOSPC; E<n> for an unnamed number) or Node's ERR_* code. */
export type SystemErrorCode = `E${string}`

/** Why a range failed: every code a RangeFailure may carry. */
export type RangeFailureCode = EngineRangeCode | SystemErrorCode

/** One failed range, in the coordinates of the file it names. */
export interface RangeFailure {
  /** Destination index, or -1 for the source. */
  dest: number
  offset: number
  length: number
  code: RangeFailureCode
  errno: number
  syscall: string
  message: string
}

/** What every chunk task answers, whatever its kind. */
export interface ChunkResultBase<K extends ChunkTask['kind']> {
  kind: K
  chunkIndex: number
  lengthBytes: number
  /**
   * The chunk's xxh3-64 (a hash task: one digest of its algo per manifest
   * chunk, end to end); null when not hashed or not read.
   */
  digest: DigestBytes | null
  readErr: boolean
  /** Bit i set when destination i failed in this chunk. */
  writeErr: number
  errors: RangeFailure[]
  /** Bytes moved with O_DIRECT (read + written), for reporting. */
  directBytes: number
  /** Retries of transient errors (EINTR, EAGAIN, ETIMEDOUT) in this chunk (src/error-kinds.ts). */
  retries?: number
}

export interface CopyChunkResult extends ChunkResultBase<'copy'> {
  /** Sparse copies: bytes of the chunk left as holes (or zeroed out) instead of written, on every destination. */
  holeBytes?: number
  /** Incremental copies: the chunk was unchanged since the manifest, so it was not written. */
  skippedBytes?: number
  /** Milliseconds spent reading, hashing, writing (every destination) and reading back, in this chunk. */
  phaseMs?: [number, number, number, number]
  /** Bad-block handling: absolute source ranges that could not be read (flat offset, length pairs); the rest of the chunk was copied. */
  badRanges?: number[]
}

export type ZeroChunkResult = ChunkResultBase<'zero'>
export interface RangesChunkResult extends ChunkResultBase<'ranges'> {
  /**
   * Clone jobs (method 'clone' without checks to follow, and 'check'): what
   * this task completed, as flat (destination offset, length) pairs,
   * ascending where the pieces are: the pieces cloned (and, with verify,
   * checked without a fault). Their job reports these, in the destination's
   * offsets as its errors are, instead of positions in its work list.
   */
  doneSpans?: number[]
}
export type HashChunkResult = ChunkResultBase<'hash'>

export interface CompareChunkResult extends ChunkResultBase<'compare'> {
  /**
   * Per replica, where it differs in this chunk (src/chunk/diff-runs.ts):
   * [] where it matches or could not be read, else [runs, spanBytes,
   * differingBytes, offset, length, offset, length, ...]: how many runs
   * (differing bytes fewer than 64 equal bytes apart are one run), the bytes
   * they span, the bytes that differ, then runs at absolute offsets in order,
   * at most 256 of them: the first 255 and always the chunk's last, so a
   * run that goes on into the next chunk can be joined to it. A manifest
   * mismatch is one run over the whole chunk. Absent when the chunk was
   * not compared (its worker failed).
   */
  diffs?: number[][]
}

export interface ProbeResult {
  kind: 'probe'
  threadId: number
  backend: 'native' | 'fs'
  reason: string
}

/** The result of each kind of task. */
export interface TaskResults {
  copy: CopyChunkResult
  zero: ZeroChunkResult
  ranges: RangesChunkResult
  hash: HashChunkResult
  compare: CompareChunkResult
  probe: ProbeResult
  baseline: BaselineResult
}

/** What a worker answers to task T. */
export type TaskResult<T extends PoolTask> = TaskResults[T['kind']]

/** What a worker answers to some chunk task. */
export type ChunkResult = TaskResult<ChunkTask>

/** Whether `result` answers `task` (its kind is the task's): where results come back from the pool untyped. */
export function answers<T extends PoolTask>(task: T, result: TaskResults[PoolTask['kind']]): result is TaskResult<T> {
  return result.kind === task.kind
}
