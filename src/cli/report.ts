import type { BackendInfo } from '../io/types.js'
import type { CopyResult, IncrementalResult } from '../job.js'
import { describe } from '../error-kinds.js'
import { formatBytes } from '../units.js'

export interface ReportContext {
  source: string | null
  destinations: string[]
  json: boolean
  backend: BackendInfo
  /** An incremental copy's manifest file, rewritten with the destination's new state. */
  manifest?: string
  /** Why that manifest could not be rewritten (the one on disk then marks every chunk unknown). */
  manifestError?: { code: string; message: string }
}

/** Prints a result: one JSON object on stdout with --json, else a short report for people. */
export function printResult(r: CopyResult, ctx: ReportContext): void {
  const seconds = r.elapsedMs / 1000
  const throughputBytesPerSec = seconds > 0 ? Math.round(r.completedBytes / seconds) : 0
  if (ctx.json) {
    const out = {
      ...r, source: ctx.source, destinations: ctx.destinations, throughputBytesPerSec, io: ctx.backend,
      ...(ctx.manifest ? { manifest: ctx.manifest } : {}),
      ...(ctx.manifestError ? { ok: false, manifestError: ctx.manifestError } : {}),
    }
    process.stdout.write(`${JSON.stringify(out)}\n`)
    return
  }
  const verb = r.kind === 'zero' ? 'zeroed' : r.method === 'clone' ? 'cloned' : r.incremental ? 'updated' : 'copied'
  const where = r.kind === 'zero' ? `on ${ctx.destinations.join(', ')}` : `from ${ctx.source} to ${ctx.destinations.join(', ')}`
  // completedBytes is this run's; a resumed copy says what earlier runs did apart, as its progress counted it.
  const resumed = r.map?.resumedBytes ?? 0
  const done = resumed > 0 ? `${formatBytes(r.completedBytes)} this run (${formatBytes(resumed)} by earlier runs)` : formatBytes(r.completedBytes)
  const lines = [
    `${verb} ${done} of ${formatBytes(r.totalBytes)} ${where} in ${seconds.toFixed(2)} s (${formatBytes(throughputBytesPerSec)}/s)`,
    `direct I/O: ${directText(r, ctx)}`,
  ]
  if (r.incremental) lines.push(...incrementalLines(r, r.incremental))
  if (ctx.manifest) lines.push(`manifest ${ctx.manifest} updated to the destination's new state`)
  if (r.map) {
    const m = r.map
    lines.push(`map ${m.path}: ${formatBytes(m.rescuedBytes)} done${m.resumedBytes > 0 ? ` (${formatBytes(m.resumedBytes)} by earlier runs)` : ''}, ${formatBytes(m.pendingBytes)} left, ${formatBytes(m.badBytes)} bad`)
    if (m.saveError) lines.push(`map ${m.path} NOT saved (${m.saveError.message}): the one on disk is behind, so a rerun copies some bytes again`)
  }
  if (r.holeBytes > 0) lines.push(`sparse: ${formatBytes(r.holeBytes)} not written (left as holes, punched or zeroed out)`)
  // An incremental copy's verify line (above) says which chunks it covers: not the ones skipped.
  if (r.verify !== 'none' && !r.incremental) lines.push(`verify: ${r.verify}${verifyWhat(r)}${r.writeErr === 0 && !r.readErr ? ', no differences' : ''}`)
  // A clone's `completed` is in DST's offsets, as its errors are: where it failed, say what it did clone.
  if (r.method === 'clone' && !r.ok) lines.push(`cloned into ${ctx.destinations[0] ?? ''}: ${spanList(r.completed)}`)
  if (r.digest) lines.push(`xxh3 of chunk digests (${formatBytes(r.chunkBytes)} chunks): ${r.digest}`)
  const extents = `completed extents: ${r.completed.map((e) => `${e.offset}+${e.length}`).join(' ') || 'none'}`
  if (r.cancelled) lines.push(`cancelled: ${formatBytes(r.completedBytes)} done; ${extents}`)
  // A job that stops at its first error leaves chunks it never started, on every destination: say where the copy stands.
  else if (r.stopped) {
    lines.push(`stopped after an error: ${formatBytes(r.completedBytes)} of ${formatBytes(r.totalBytes)} on every destination, the rest not (or not surely) written; ${extents}`)
  }
  for (const e of r.errors) {
    // In words first (src/error-kinds.ts), then the exact range and the system's code.
    const file = e.dest < 0 ? `source (${ctx.source ?? ''})` : `destination ${e.dest + 1} (${ctx.destinations[e.dest] ?? ''})`
    const what = e.dest < 0 ? 'not read' : 'not written'
    lines.push(`error: ${file} ${describe(e.code)}: bytes ${e.offset}..${e.offset + e.length} ${what} [${e.code} from ${e.syscall}]`)
  }
  if (r.retries > 0) lines.push(`retried ${r.retries} time${r.retries === 1 ? '' : 's'} after transient errors (EAGAIN, timeouts); any not overcome are listed above`)
  process.stdout.write(`${lines.join('\n')}\n`)
}

/** What a clone's check compared: both read back, by digest or byte for byte. */
function verifyWhat(r: CopyResult): string {
  if (r.method !== 'clone') return ''
  return r.verify === 'hash' ? ' (each cloned range hashed in SRC and in DST, digests compared)' : ' (each cloned range read in SRC and in DST, compared byte for byte)'
}

/** Byte ranges as `bytes A..B, C..D`, the first 20 of them, or `nothing`. */
function spanList(spans: readonly { offset: number; length: number }[]): string {
  if (spans.length === 0) return 'nothing'
  const shown = spans.slice(0, 20).map((e) => `${e.offset}..${e.offset + e.length}`).join(', ')
  return `bytes ${shown}${spans.length > 20 ? `, and ${spans.length - 20} more ranges (--json lists them all)` : ''}`
}

function directText(r: CopyResult, ctx: ReportContext): string {
  if (ctx.backend.kind !== 'native') return `off (${ctx.backend.reason ?? 'native addon not loaded'})`
  const yn = (b: boolean) => (b ? 'yes' : 'no')
  const dests = r.direct.dests.map(yn).join('/')
  return r.kind === 'zero' ? `destinations ${dests}` : `source ${yn(r.direct.source)}, destinations ${dests}`
}

const chunks = (n: number) => `${n} chunk${n === 1 ? '' : 's'}`

/**
 * What an incremental copy wrote, what it read of the destination before,
 * what it trusted to the manifest without reading it there, and what its
 * verification covers: only the chunks written.
 */
function incrementalLines(r: CopyResult, i: IncrementalResult): string[] {
  const lines = [`incremental: wrote ${chunks(i.writtenChunks)} (${formatBytes(i.writtenBytes)}) that changed, skipped ${i.skippedChunks} (${formatBytes(i.skippedBytes)}) unchanged`]
  const c = i.check
  const differing = c.differing.reduce((n, e) => n + e.length, 0)
  if (i.writeAll) lines.push(`every chunk written: ${i.reason ?? ''}`)
  else if (c.mode === 'whole') {
    const found = differing === 0
      ? 'none changed behind the manifest'
      : `${formatBytes(differing)} not as the manifest records (bytes ${c.differing.slice(0, 20).map((e) => `${e.offset}..${e.offset + e.length}`).join(', ')}${c.differing.length > 20 ? ', ...' : ''}), compared with SRC by what DST holds`
    lines.push(`checked before the copy: every chunk of DST read and hashed (--check-dest), ${chunks(c.chunks)} (${formatBytes(c.bytes)}): ${found}`)
  } else if (c.mode === 'sample') {
    lines.push(`checked before the copy: a sample of ${chunks(c.chunks)} (${formatBytes(c.bytes)}) of DST read, none changed behind the manifest`)
  }
  if (i.trustedChunks > 0) {
    lines.push(`trusted, not read: ${chunks(i.trustedChunks)} (${formatBytes(i.trustedBytes)}) skipped on the manifest's word, DST not read there (--check-dest reads every chunk)`)
  } else {
    lines.push(`trusted, not read: nothing (${i.skippedChunks === 0 ? 'no chunk was skipped' : 'every chunk skipped was read on DST'})`)
  }
  const ckpt = i.checkpoint
  if (ckpt) lines.push(ckpt.used ? `checkpoint ${ckpt.path}: ${formatBytes(ckpt.unreadBytes)} unchanged by their extents, not read` : `checkpoint ${ckpt.path} not used (${ckpt.reason ?? ''}): every chunk was read`)
  const clean = r.writeErr === 0 && !r.readErr
  const written = `${chunks(i.writtenChunks)} written (${formatBytes(i.writtenBytes)})`
  if (i.writtenChunks === 0) lines.push(`verify: ${r.verify}: nothing written, so nothing to verify`)
  else if (r.verify === 'readback') lines.push(`verify: readback of the ${written}: read back from DST and compared${clean ? ', no differences' : ''}`)
  else lines.push(`verify: hash: the ${written} hashed as read from SRC; DST not read back (--verify readback does)`)
  return lines
}
