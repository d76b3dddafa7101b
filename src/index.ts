// The public API of blockcopy. Named exports only.
export { createClient, CopyClient } from './client.js'
export type { CopyOptions, ZeroOptions, NotifyFn, VerifyMode } from './client.js'
export type { ClientOptions, ClientSettings } from './options.js'
export { MIN_CHUNK_BYTES, MAX_CHUNK_BYTES, MAX_DESTINATIONS } from './options.js'
export { Job } from './job.js'
export type { CopyResult, Progress, Extent, ChunkDigest } from './job.js'
export type { Region, DirectMode } from './regions.js'
export type { RangeFailure } from './protocol.js'
export type { JobState, JobStatus } from './jobs/status.js'
export type { ReplicateOptions } from './replicate/engine.js'
export type { ReplicateRange } from './replicate/ranges.js'
export type { BackendInfo } from './io/types.js'
export type {
  AlignSource, Capabilities, CloneSupport, DirectSupport, Support, ZeroOutMethod, ZeroOutSupport,
} from './replicate/caps.js'
export type { HashAlgo } from './protocol.js'
export type { HashJob, HashOptions } from './verify/hash-job.js'
export type { Manifest } from './verify/manifest.js'
export {
  buildManifest, chunkDigest, decodeManifest, encodeManifest, readManifest, writeManifest, MANIFEST_MAGIC, MANIFEST_VERSION,
} from './verify/manifest.js'
export type { StreamDigest } from './verify/stream.js'
export { wholeFileDigest, xxhsumLine } from './verify/stream.js'
export { BlockcopyError, SystemError } from './errors.js'
export type { EngineErrorCode } from './errors.js'
export { parseSize, formatBytes } from './units.js'
