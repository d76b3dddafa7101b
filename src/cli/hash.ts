import fs from 'node:fs'
import path from 'node:path'
import { Option, type Command } from 'commander'
import { BlockcopyError, toSystemError } from '../errors.js'
import type { HashAlgo } from '../protocol/protocol.js'
import { formatBytes } from '../units.js'
import { stickyRefusal } from '../io/access.js'
import { followLinks } from '../io/durable.js'
import { writeRefusal } from '../files/regions.js'
import { writeManifest } from '../hash/manifest.js'
import { checkDigestPath, streamDigest, wholeFileDigest, xxhsumLine } from '../hash/stream.js'
import { MEMORY_HELP, runJob, THREADS_HELP, withClient, type EngineFlags } from './common.js'
import { cliMessage, errorLine, EXIT, exitCodeFor, exitCodeForError, isBadInput, worstExit } from './exit.js'
import { checkHashPaths } from './paths.js'
import { standardInput, STDIN_SHOWN } from './stdin.js'

interface HashFlags extends EngineFlags {
  algo: HashAlgo
  output?: string
  xxhsum?: boolean
}

/** One file's outcome, as --json prints it. */
interface FileReport {
  path: string
  algo: HashAlgo
  ok: boolean
  sizeBytes?: number
  elapsedMs?: number
  /** --xxhsum: the whole-stream digest. */
  digest?: string
  /** Manifest mode: the root over the chunk digests. */
  root?: string
  chunkBytes?: number
  chunkCount?: number
  manifest?: string
  error?: { code: string; message: string }
}

/** The FILE that means standard input. */
const STDIN = '-'

const rate = (bytes: number, ms: number) => `${formatBytes(ms > 0 ? Math.round((bytes * 1000) / ms) : 0)}/s`

/**
 * Every argument checked before anything is read: -o, its one FILE, and the
 * combinations. Without -o, each FILE is checked as its turn comes, so that
 * a bad one is reported and the others are still hashed, as xxhsum does.
 */
function checkArgs(files: string[], f: HashFlags): void {
  checkStdin(files, f)
  if (f.output === undefined) return
  if (f.xxhsum) throw new BlockcopyError('INVALID_ARGUMENT', '-o: --xxhsum prints whole-file digests; a manifest (-o) is for chunk digests, not both', 'output')
  if (files.length !== 1) throw new BlockcopyError('INVALID_ARGUMENT', `-o: a manifest describes one FILE, got ${files.length}`, 'output')
  checkDigestPath(files[0] as string, 'FILE 1')
  const dir = path.dirname(path.resolve(f.output))
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new BlockcopyError('NOT_FOUND_VOLUME', `-o: directory ${dir} does not exist, so ${f.output} cannot be written`, 'output')
  }
  // Not FILE by any name (the manifest would replace it), nor a directory or a device node.
  checkHashPaths(files, f.output)
  // Saved as a file beside it renamed over it (src/io/durable.ts): refused now, not once every byte was read.
  const target = followLinks(path.resolve(f.output))
  const refused = writeRefusal(path.dirname(target))
  if (refused) {
    throw new BlockcopyError('INVALID_ARGUMENT', `-o: ${f.output} is written in ${path.dirname(target)} and renamed into place, but that directory cannot be written (${refused.code})`, 'output')
  }
  const sticky = stickyRefusal(target)
  if (sticky) throw new BlockcopyError('INVALID_ARGUMENT', `-o: ${sticky}`, 'output')
}

/** `-` is standard input, as for xxhsum: once, and only for --xxhsum, since a manifest reads its chunks by offset. */
function checkStdin(files: string[], f: HashFlags): void {
  const at = files.indexOf(STDIN)
  if (at < 0) return
  if (!f.xxhsum) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `FILE ${at + 1}: - (standard input) cannot be read by offset, as a manifest's chunks are; use --xxhsum for its whole-stream digest`,
      'path',
    )
  }
  const again = files.indexOf(STDIN, at + 1)
  if (again >= 0) throw new BlockcopyError('INVALID_ARGUMENT', `FILE ${again + 1}: - (standard input) may be given once, and was given as FILE ${at + 1}`, 'path')
}

/**
 * A FILE that cannot be hashed at all (missing, a directory, a closed
 * standard input, one it may not open): an error line naming it, an entry
 * with its error, and its exit code (src/cli/exit.ts exitCodeForError, as
 * for every file of both modes).
 */
function refuseFile(file: string, err: unknown, f: HashFlags, reports: FileReport[]): number {
  if (!isBadInput(err)) throw err
  process.stderr.write(`blockcopy: ${errorLine(err)}\n`)
  reports.push({ path: file, algo: f.algo, ok: false, error: { code: err.code, message: cliMessage(err) } })
  return exitCodeForError(err)
}

/** --xxhsum: whole-stream digests, one file after the other; a file that fails is reported and the rest go on. */
async function streamDigests(files: string[], f: HashFlags): Promise<{ reports: FileReport[]; code: number }> {
  const reports: FileReport[] = []
  const codes: number[] = []
  for (const [i, file] of files.entries()) {
    let input: AsyncIterable<Uint8Array> | null = null
    try {
      if (file === STDIN) input = standardInput(`FILE ${i + 1}`)
      else checkDigestPath(file, `FILE ${i + 1}`)
    } catch (err) {
      codes.push(refuseFile(file, err, f, reports))
      continue
    }
    try {
      // Its line names it `stdin`, as xxhsum's does; its report, as it was given.
      const d = input ? await streamDigest(input, { algo: f.algo }) : await wholeFileDigest(file, { algo: f.algo })
      reports.push({ path: file, algo: f.algo, ok: true, sizeBytes: d.sizeBytes, elapsedMs: d.elapsedMs, digest: d.digest })
      if (!f.json) process.stdout.write(`${xxhsumLine(d)}\n`)
    } catch (err) {
      const e = toSystemError(err, 'read', file)
      // One that cannot be opened (EACCES) is said, and exits, as the manifest mode says it; a read that failed (EIO) names the file.
      if (e.syscall === 'open') {
        codes.push(refuseFile(file, e, f, reports))
        continue
      }
      process.stderr.write(`blockcopy: ${file === STDIN ? STDIN_SHOWN : file}: ${e.message}\n`)
      reports.push({ path: file, algo: f.algo, ok: false, error: { code: e.code, message: e.message } })
      codes.push(exitCodeForError(e))
    }
  }
  return { reports, code: worstExit(codes) }
}

/** Manifest mode: each file through the worker pool, chunk by chunk. */
async function manifests(files: string[], f: HashFlags): Promise<{ reports: FileReport[]; code: number }> {
  const reports: FileReport[] = []
  const codes: number[] = []
  await withClient(f, async (client) => {
    for (const [i, file] of files.entries()) {
      const controller = new AbortController()
      let job
      try {
        checkDigestPath(file, `FILE ${i + 1}`)
        job = client.hash(file, { algo: f.algo, signal: controller.signal })
      } catch (err) {
        codes.push(refuseFile(file, err, f, reports))
        continue
      }
      const result = await runJob(job, f, controller)
      const m = await job.manifest
      if (!m) {
        codes.push(exitCodeFor(result))
        const first = result.errors[0]
        const message = first ? first.message : 'cancelled before every chunk was read'
        process.stderr.write(`blockcopy: ${file}: ${message}\n`)
        reports.push({ path: file, algo: f.algo, ok: false, error: { code: first?.code ?? 'CANCELLED', message } })
        if (result.cancelled) break
        continue
      }
      const report: FileReport = {
        path: file, algo: m.algo, ok: true, sizeBytes: m.sizeBytes, elapsedMs: result.elapsedMs, root: m.root,
        chunkBytes: m.chunkBytes, chunkCount: m.chunkCount,
      }
      if (f.output !== undefined) {
        await writeManifest(f.output, m)
        report.manifest = f.output
      }
      reports.push(report)
      if (!f.json) {
        const what = `${m.algo} root of ${m.chunkCount} chunk${m.chunkCount === 1 ? '' : 's'} of ${formatBytes(m.chunkBytes)}`
        const lines = [`${m.root}  ${file}  (${what}; ${formatBytes(m.sizeBytes)} in ${(result.elapsedMs / 1000).toFixed(2)} s, ${rate(m.sizeBytes, result.elapsedMs)})`]
        if (report.manifest) lines.push(`manifest written to ${report.manifest}`)
        process.stdout.write(`${lines.join('\n')}\n`)
      }
    }
    return EXIT.ok
  })
  return { reports, code: worstExit(codes) }
}

/** `blockcopy hash FILE... [--chunk SIZE] [--algo xxh3|xxh128] [-o MANIFEST] [--xxhsum] [--json]`. */
export function registerHash(prog: Command, setExit: (code: number) => void): void {
  prog.command('hash')
    .description('chunk manifest of files or block devices (root digest, -o to save it), or xxhsum-compatible whole-file digests')
    .argument('<file...>', 'files or block devices; - is standard input (with --xxhsum)')
    .addOption(new Option('--algo <algo>', 'xxh3 (XXH3 64-bit) or xxh128 (XXH3 128-bit)').choices(['xxh3', 'xxh128']).default('xxh3'))
    .option('--chunk <size>', 'manifest chunk size, 64KiB to 16MiB (default 1MiB)')
    .option('-o, --output <manifest>', 'write the manifest of the one FILE to this file (docs/manifest.md)')
    .option('--xxhsum', 'print whole-file digests as lines `xxhsum -c` accepts (equal to xxhsum -H3, or -H2 with --algo xxh128)')
    .option('--threads <n>', THREADS_HELP)
    .option('--memory <size>', MEMORY_HELP)
    .addOption(new Option('--direct <mode>', 'O_DIRECT for aligned middles').choices(['auto', 'always', 'never']).default('auto'))
    .addOption(new Option('--progress <mode>', 'progress on stderr: a bar on a terminal (auto), NDJSON lines, or none').choices(['auto', 'ndjson', 'none']).default('auto'))
    .option('--json', 'print one JSON object on stdout: { ok, files: [...] }')
    .action(async (files: string[], f: HashFlags) => {
      checkArgs(files, f)
      const { reports, code } = f.xxhsum ? await streamDigests(files, f) : await manifests(files, f)
      if (f.json) process.stdout.write(`${JSON.stringify({ ok: code === EXIT.ok, files: reports })}\n`)
      setExit(code)
    })
}
