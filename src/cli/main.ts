// cli/: the blockcopy command line: flags mapped to library options, reports, exit codes; detached/ holds the --detach job records.
import { Command, CommanderError, Option } from 'commander'
import fs from 'node:fs'
import { BlockcopyError, toSystemError, type SystemError } from '../errors.js'
import { allUnknown } from '../hash/manifest.js'
import type { Region } from '../files/regions.js'
import { parseSize } from '../units.js'
import { addEngineOptions, collect, parseWhole, recordedArgv, runJob, withClient, type EngineFlags } from './common.js'
import { detach, detachedJobId, hasOption, registerJobs } from './detached/jobs-command.js'
import { cliMessage, cliName, cliText, errorLine, EXIT, exitCodeFor, isBadInput, type CliNames } from './exit.js'
import { printResult } from './report.js'
import { SinceFile } from './since-file.js'
import { checkCopyPaths, checkZeroPaths } from './paths.js'
import { registerCaps } from './caps.js'
import { registerBench } from './bench.js'
import { registerReplicate } from './replicate.js'
import { registerHash } from './hash.js'
import { registerVerify } from './verify.js'

interface CommonFlags extends EngineFlags {
  dstOffset: string[]
  length?: string
}

interface CopyFlags extends CommonFlags {
  srcOffset?: string
  verify: 'none' | 'hash' | 'readback'
  sequential?: boolean
  sparse?: boolean
  since?: string
  force?: boolean
  checkDest?: boolean
  baseline?: string
  checkpoint?: string
  map?: string
  mapInterval?: string
  retryBad?: string
  fillBad?: 'keep' | 'zero'
}

interface ZeroFlags extends CommonFlags {
  verify: 'none' | 'readback'
  all?: boolean
}

/**
 * Without --length, zero takes the rest of each DST: for a block device
 * that is all of it, so it must be asked for with --all. Checked here in
 * the words of the command line; the library refuses the same in its own.
 */
function checkZeroExtent(dsts: string[], f: ZeroFlags): void {
  if (f.all && f.length !== undefined) throw new BlockcopyError('INVALID_ARGUMENT', '--all: zeroes each DST to its end; give --all or --length, not both', 'all')
  if (f.all || f.length !== undefined) return
  dsts.forEach((dst, i) => {
    const name = dsts.length > 1 ? `DST ${i + 1}` : 'DST'
    if (isBlockDevice(dst)) {
      throw new BlockcopyError('INVALID_ARGUMENT', `${name}: ${dst} is a block device; give --length, or --all to zero it from --dst-offset to its end`, `to[${i}]`)
    }
  })
}

function isBlockDevice(p: string): boolean {
  try {
    return fs.statSync(p).isBlockDevice()
  } catch {
    // A path that cannot be looked at is the library's to report, with its reason.
    return false
  }
}

function addCommon(cmd: Command): Command {
  return addEngineOptions(
    cmd
      .option('--dst-offset <size>', 'destination offset; once for all destinations or once per DST', collect, [])
      .option('--length <size>', 'bytes to process (default: the rest of the source; for zero, the rest of each destination file, and a block device needs --all)'),
  )
}

function destRegions(dsts: string[], f: CommonFlags): Region[] {
  if (f.dstOffset.length > 1 && f.dstOffset.length !== dsts.length) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `to: --dst-offset was given ${f.dstOffset.length} times for ${dsts.length} destinations; give it once for all, or once per DST`,
      'to',
    )
  }
  const offsets = f.dstOffset.map((s, i) => parseSize(s, `to[${i}].offset`))
  return dsts.map((path, i) => ({ path, offset: offsets.length === 1 ? (offsets[0] ?? 0) : (offsets[i] ?? 0) }))
}

/** This command line, quoted for a shell where needed. */
function resumeCommand(): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)
  // Without a detached job's hidden --job-id: run again, it would overwrite that job's record.
  return ['blockcopy', ...recordedArgv(process.argv)].map(quote).join(' ')
}

/** The command line; its actions set `names` (how many DSTs they were given) for the messages of what they throw. */
function program(setExit: (code: number) => void, names: CliNames): Command {
  const prog = new Command('blockcopy')
    .description('Copy, zero and verify byte ranges of files and block devices, with O_DIRECT and xxh3')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()

  const sparseFlags = new Set<string>()
  addCommon(
    prog.command('copy')
      .description('copy a range of SRC to up to 8 destinations')
      .argument('<src>', 'source file or block device')
      .argument('<dst...>', 'destination files or block devices (missing files are created, never truncated)')
      .option('--src-offset <size>', 'first source byte (default 0)')
      .addOption(new Option('--verify <mode>', 'none, hash (xxh3 per chunk) or readback (also re-read every destination)').choices(['none', 'hash', 'readback']).default('none'))
      .option('--sequential', 'write chunks strictly in order')
      .option('--sparse', 'leave all zeros as holes: zero runs of 64KiB or more are punched (files) or unmapped / zeroed out (devices) instead of written, and nothing is preallocated (default: the holes of SRC stay holes where DST is a new file or past its end, as cp --sparse=auto)')
      .option('--no-sparse', 'write every byte, holes of SRC included, and preallocate file destinations')
      .option('--since <manifest>', 'incremental: write only the chunks that changed since this manifest of DST (blockcopy hash DST -o M), then update it')
      .option('--force', 'with --since: if DST is not in the state the manifest records, write every chunk instead of refusing (with --check-dest: the chunks where SRC differs from what DST holds); with --map: resume a map made for another source')
      .option('--check-dest', 'with --since: hash all of DST against the manifest before copying, instead of a sample of its chunks (for a manifest you cannot trust)')
      .option('--baseline <file>', 'with --since, SRC on XFS (reflink) or btrfs: keep a clone of SRC in this file between runs; chunks it still shares with SRC are not even read')
      .option('--checkpoint <file>', 'deprecated: the old name of --baseline, for this release')
      .option('--map <file>', 'resume map (GNU ddrescue mapfile): saved as the copy runs; run the same command again to copy only what is not done')
      .option('--map-interval <ms>', 'with --map: sync and save the map this often, 50 to 60000 ms (default 1000)')
      .option('--retry-bad <n>', 'with --map: copy only the bad blocks (-) the map records, reading each up to N times')
      .addOption(new Option('--fill-bad <mode>', 'with --ignore-errors or --retry-bad: unreadable blocks stay as the destination had them, or are zero-filled').choices(['keep', 'zero']))
      // Both set one value, the last given winning: seen here, so the two together are refused.
      .on('option:sparse', () => sparseFlags.add('--sparse'))
      .on('option:no-sparse', () => sparseFlags.add('--no-sparse')),
  ).action(async (src: string, dsts: string[], f: CopyFlags) => {
    names.dstCount = dsts.length
    if (sparseFlags.size > 1) {
      throw new BlockcopyError('INVALID_ARGUMENT', '--sparse: and --no-sparse exclude each other; give one of them, or neither (the holes of SRC then stay holes where DST is new, as cp --sparse=auto)', 'sparse')
    }
    const from: Region = { path: src, offset: f.srcOffset === undefined ? 0 : parseSize(f.srcOffset, 'from.offset') }
    if (f.length !== undefined) from.length = parseSize(f.length, 'from.length')
    const to = destRegions(dsts, f)
    if (f.force && f.since === undefined && f.map === undefined) throw new BlockcopyError('INVALID_ARGUMENT', '--force: only applies with --since or --map', 'force')
    if (f.checkDest && f.since === undefined) throw new BlockcopyError('INVALID_ARGUMENT', '--check-dest: only applies with --since', 'checkDest')
    if (f.baseline !== undefined && f.checkpoint !== undefined) {
      throw new BlockcopyError('INVALID_ARGUMENT', '--baseline: give --baseline or --checkpoint (its old name), not both', 'baseline')
    }
    if (f.checkpoint !== undefined) {
      names.baselineFlag = '--checkpoint'
      process.stderr.write('blockcopy: --checkpoint is deprecated, use --baseline; it will go in the next release\n')
    }
    const baseline = f.baseline ?? f.checkpoint
    if (baseline !== undefined && f.since === undefined) throw new BlockcopyError('INVALID_ARGUMENT', `${cliName('baseline', names)}: only applies with --since`, 'baseline')
    checkCopyPaths(src, dsts, { map: f.map, since: f.since, baseline, baselineFlag: cliName('baseline', names) ?? '--baseline' })
    const held = f.since === undefined ? null : await SinceFile.open(f.since)
    try {
      setExit(await copyWith(held))
    } finally {
      held?.release()
    }

    async function copyWith(sinceFile: SinceFile | null): Promise<number> {
      const since = sinceFile?.manifest
      // The workers' buffers are sized for the manifest's chunks (up to 16 MiB) unless --chunk says otherwise.
      const engine = since && f.chunk === undefined ? { ...f, chunk: String(since.chunkBytes), chunkOrigin: 'manifest' as const } : f
      return withClient(engine, async (client) => {
        const controller = new AbortController()
        const job = client.copy(from, to, {
          verify: f.verify, ignoreErrors: f.ignoreErrors === true, sequentialWrites: f.sequential === true,
          sparse: f.sparse === undefined ? 'auto' : f.sparse ? 'always' : 'never',
          signal: controller.signal,
          ...(since ? { since, force: f.force === true, checkDest: f.checkDest === true } : {}),
          ...(since && baseline !== undefined ? { baseline } : {}),
          // --chunk must agree with the manifest's chunks, so it is checked against them.
          ...(since && f.chunk !== undefined ? { chunkBytes: parseSize(f.chunk, 'chunkBytes') } : {}),
          // Once the destination passed its check and before any chunk is
          // written, the manifest on disk marks every chunk unknown: a run
          // killed part-way leaves the next one nothing to skip wrongly.
          ...(since && sinceFile ? { beforeWrite: async () => sinceFile.write(await allUnknown(since)) } : {}),
          ...(f.map === undefined ? {} : { map: f.map, ...(f.force ? { force: true } : {}) }),
          ...(f.mapInterval === undefined ? {} : { mapIntervalMs: parseWhole(f.mapInterval, 'mapIntervalMs') }),
          ...(f.retryBad === undefined ? {} : { retryBad: parseWhole(f.retryBad, 'retryBad') }),
          ...(f.fillBad === undefined ? {} : { fillBad: f.fillBad }),
        })
        // What the destination holds now, success or not (unknown where a failure may have cut a chunk short),
        // written before a detached job's record says it ended, and the manifest let go.
        const end: { next: Awaited<typeof job.manifest>; unsaved: SystemError | null } = { next: null, unsaved: null }
        const result = await runJob(job, f, controller, async () => {
          end.next = await job.manifest
          if (!end.next || !sinceFile) return null
          try {
            await sinceFile.write(end.next)
          } catch (err) {
            end.unsaved = toSystemError(err, 'write', sinceFile.path)
          }
          sinceFile.release()
          return end.unsaved ? EXIT.ioErrors : null
        })
        const unsaved = end.unsaved
        printResult(result, {
          source: src, destinations: dsts, json: f.json === true, backend: client.backend,
          ...(end.next && sinceFile && !unsaved ? { manifest: f.since } : {}),
          ...(unsaved ? { manifestError: { code: unsaved.code, message: unsaved.message } } : {}),
        })
        if (unsaved) {
          // The manifest on disk is the one written before the first chunk: every chunk unknown, so the next run writes them all.
          process.stderr.write(`blockcopy: ${unsaved.message}; it still marks every chunk unknown, so the next run writes every chunk (or make it again: blockcopy hash DST -o ${f.since ?? ''})\n`)
          return EXIT.ioErrors
        }
        if (result.map?.sourceNote) process.stderr.write(`blockcopy: --map: ${cliText(result.map.sourceNote, names)}\n`)
        // What is left is copied by the command without --retry-bad, which only reads the bad blocks again.
        const cmd = resumeCommand().replace(/ --retry-bad(=| )\S+/, '')
        if (result.map && result.map.pendingBytes > 0) {
          process.stderr.write(`blockcopy: map ${result.map.path} saved; run the same command again to copy what is left: ${cmd}\n`)
        } else if (result.map && result.map.badBytes > 0) {
          process.stderr.write(`blockcopy: map ${result.map.path} saved with ${result.map.badBytes} bytes of bad blocks; to read them again: ${cmd} --retry-bad 3\n`)
        }
        return exitCodeFor(result)
      })
    }
  })

  addCommon(
    prog.command('zero')
      .description('zero a range on up to 8 destinations (zero-out offload where the device or file system has it)')
      .argument('<dst...>', 'destination files or block devices')
      .addOption(new Option('--verify <mode>', 'none, or readback (re-read and check zeros)').choices(['none', 'readback']).default('none'))
      .option('--all', 'without --length: zero each DST to its end (required for a block device; the default for a file)'),
  ).action(async (dsts: string[], f: ZeroFlags) => {
    names.dstCount = dsts.length
    const to = destRegions(dsts, f)
    checkZeroPaths(dsts)
    const length = f.length === undefined ? undefined : parseSize(f.length, 'length')
    checkZeroExtent(dsts, f)
    setExit(await withClient(f, async (client) => {
      const controller = new AbortController()
      const job = client.zero(to, {
        verify: f.verify, ignoreErrors: f.ignoreErrors === true, signal: controller.signal, ...(length === undefined ? {} : { length }),
        ...(f.all ? { all: true } : {}),
      })
      const result = await runJob(job, f, controller)
      printResult(result, { source: null, destinations: dsts, json: f.json === true, backend: client.backend })
      return exitCodeFor(result)
    }))
  })
  registerReplicate(prog, setExit)
  registerHash(prog, setExit)
  registerVerify(prog, setExit)
  registerCaps(prog, setExit)
  registerBench(prog, setExit)
  registerJobs(prog, setExit)
  return prog
}

/** Runs the command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok
  const names: CliNames = {}
  const prog = program((c) => {
    code = c
  }, names)
  const wantsJson = argv.includes('--json')
  const jobId = detachedJobId(argv)
  if (jobId) {
    // A detached job's output is its log, in the state directory: a write
    // that fails there (the directory full) must not end the job, as an
    // 'error' on stdout or stderr with no listener would.
    for (const out of [process.stdout, process.stderr]) out.on('error', () => undefined)
  }
  // A detached job refused before it started tells its parent why, which prints it; it has no record.
  const refuse = (code: string, message: string) => {
    if (jobId) process.send?.({ failed: { code, message } })
  }
  try {
    if (hasOption(argv, '--detach')) return await detach(argv)
    await prog.parseAsync(argv)
    return code
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok
      refuse('INVALID_ARGUMENT', err.message.replace(/^error: /, ''))
      // Commander already printed its message on stderr; --json still gets its one object.
      if (wantsJson) {
        const message = err.message.replace(/^error: /, '')
        process.stdout.write(`${JSON.stringify({ ok: false, error: { code: 'INVALID_ARGUMENT', message } })}\n`)
      }
      return EXIT.badInput
    }
    if (isBadInput(err)) {
      const message = cliMessage(err, names)
      refuse(err.code, message)
      process.stderr.write(`blockcopy: ${errorLine(err, names)}\n`)
      if (wantsJson) {
        const given = err instanceof BlockcopyError ? err.argument : undefined
        // The argument as the user typed it, where the command line has a name for it.
        const argument = given === undefined ? undefined : (cliName(given, names) ?? given)
        process.stdout.write(`${JSON.stringify({ ok: false, error: { code: err.code, message, ...(argument ? { argument } : {}) } })}\n`)
      }
      return EXIT.badInput
    }
    throw err
  }
}
