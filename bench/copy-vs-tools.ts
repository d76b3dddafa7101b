/**
 * Side-by-side comparison of blockcopy's CLI with cp+sync and dd, in one run,
 * interleaved: every round runs each contender once, in an order rotated per
 * round, each from a cold page cache when root. Prints throughput, peak RSS,
 * ratios against the peers and the project's targets.
 *
 *   npm run bench:copy -- --size 2GiB --runs 3 [--only cp,dd,hash,readback]
 *                         [--blockcopy-args "--threads 4"] [--json] [--out FILE]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseOptions, USAGE, UsageError, type BenchOptions } from './lib/args.js'
import { killRunning, makeContenders, runTimed, type Contender } from './lib/contenders.js'
import { computeRatios, computeTargets, fmt, formatReport, summarize, type RunRecord } from './lib/report.js'
import { writeRandomFile } from './lib/source.js'
import {
  dropCaches, freeBytes, hasGnuTime, isMemoryFs, machineInfo, makeDefaultWorkDir, mountOf, probeCacheMode, syncAll,
} from './lib/system.js'

const GNU_TIME = '/usr/bin/time'
const MIB = 1024 * 1024
const repoRoot = fileURLToPath(new URL('..', import.meta.url))

/** A failure the harness reports in one line and turns into an exit code. */
class BenchFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

/** argv as a copy-pasteable shell line. */
const shellLine = (argv: string[]): string =>
  argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ')

const log = (line: string): void => void process.stderr.write(`${line}\n`)

let workDir: string | undefined
let stopping = false

function cleanup(): void {
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
  workDir = undefined
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) return
  stopping = true
  log(`\n${signal}: stopping the running contender and removing ${workDir ?? 'nothing'}`)
  killRunning()
  cleanup()
  process.exit(130)
}

/** A directory inside --dir (so cleanup removes only what we made), or a default on the repository's disk. */
function prepareWorkDir(options: BenchOptions): string {
  if (options.dir === undefined) return makeDefaultWorkDir(repoRoot)
  const dir = resolve(options.dir)
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--dir: ${dir} is not a directory`)
  const mount = mountOf(dir)
  if (isMemoryFs(mount)) {
    throw new UsageError(`--dir: ${dir} is on ${mount.fsType}; use a directory on a disk (O_DIRECT and cold caches mean nothing in memory)`)
  }
  if (mount.source !== mountOf(repoRoot).source) log(`note: --dir is on ${mount.source}, not the repository's disk`)
  return mkdtempSync(join(dir, 'blockcopy-bench-'))
}

/** cmp the copy against the source, outside the timed section. */
function assertIdentical(contender: Contender, srcPath: string, dstPath: string): void {
  const result = spawnSync('cmp', ['--', srcPath, dstPath], { encoding: 'utf8' })
  if (result.status === 0) return
  const detail = (result.stdout + result.stderr).trim() || (result.error?.message ?? `cmp exit ${result.status}`)
  throw new BenchFailure(`FAIL: ${contender.label} produced a copy that is not byte-identical to the source: ${detail}`, 1)
}

/** The first run of a blockcopy contender must print one JSON object; it is kept for the report. */
function parseCliResult(contender: Contender, stdout: string): unknown {
  try {
    return JSON.parse(stdout) as unknown
  } catch {
    throw new BenchFailure(`FAIL: ${contender.label} exited 0 but did not print one JSON object on stdout: ${stdout.slice(0, 200)}`, 1)
  }
}

async function main(options: BenchOptions): Promise<void> {
  const blockcopyBin = join(repoRoot, 'bin', 'blockcopy.js')
  const wantsBlockcopy = options.only.some((name) => name === 'hash' || name === 'readback')
  if (wantsBlockcopy && !existsSync(blockcopyBin)) {
    throw new UsageError(`${blockcopyBin} does not exist yet; build it, or run only the peers with --only cp,dd`)
  }
  if (!hasGnuTime(GNU_TIME)) {
    throw new BenchFailure(`peak RSS is measured with GNU time at ${GNU_TIME}, which is missing: apt-get install time`, 2)
  }

  workDir = prepareWorkDir(options)
  const mount = mountOf(workDir)
  const neededBytes = 2 * options.sizeBytes + 64 * MIB
  if (freeBytes(workDir) < neededBytes) {
    throw new UsageError(`--size: ${workDir} has ${fmt(freeBytes(workDir) / MIB, 0)} MiB free, needs ${fmt(neededBytes / MIB, 0)} MiB (source + copy)`)
  }
  const cacheMode = probeCacheMode()
  const contenders = makeContenders({ blockcopyBin, blockcopyArgs: options.blockcopyArgs })
    .filter((contender) => options.only.includes(contender.name))
  const srcPath = join(workDir, 'source.bin')
  const dstPath = join(workDir, 'copy.bin')
  const rssFile = join(workDir, 'peak-rss.txt')

  log(`source: ${fmt(options.sizeBytes / MIB, 0)} MiB of pseudo-random data in ${workDir} (${mount.fsType} on ${mount.source})`)
  log(cacheMode.kind === 'cold'
    ? 'cache: cold (sync + echo 3 > /proc/sys/vm/drop_caches before every run)'
    : `cache: WARM, figures include page-cache effects (${cacheMode.reason})`)
  for (const contender of contenders) log(`  ${contender.name.padEnd(8)} ${contender.note}`)
  if (options.blockcopyArgs.length > 0) log(`  blockcopy extra args: ${options.blockcopyArgs.join(' ')}`)

  const writeStartNs = process.hrtime.bigint()
  await writeRandomFile(srcPath, options.sizeBytes, () => stopping)
  const writeMs = Number(process.hrtime.bigint() - writeStartNs) / 1e6
  log(`source written and fdatasynced in ${fmt(writeMs / 1000, 1)} s (${fmt(options.sizeBytes / (writeMs / 1000) / 1e9, 2)} GB/s)`)

  const runs = new Map<string, RunRecord[]>(contenders.map((contender) => [contender.name, []]))
  const cliResults: Record<string, unknown> = {}
  for (let round = 0; round < options.runs; round++) {
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]).filter((c): c is Contender => c !== undefined)
    for (const contender of order) {
      rmSync(dstPath, { force: true })
      if (cacheMode.kind === 'cold') dropCaches()
      else syncAll()
      const measured = await runTimed(GNU_TIME, rssFile, contender.command(srcPath, dstPath))
      if (stopping) return
      if (measured.exitCode !== 0) {
        const why = measured.signal !== null ? `signal ${measured.signal}` : `exit ${measured.exitCode}`
        throw new BenchFailure(`FAIL: ${contender.label} failed (${why}): ${measured.stderr.trim().slice(-2000)}`, 1)
      }
      if (!Number.isFinite(measured.peakRssKiB)) throw new BenchFailure(`FAIL: GNU time reported no peak RSS for ${contender.label}`, 1)
      const bytesPerSecond = options.sizeBytes / (measured.elapsedMs / 1000)
      runs.get(contender.name)?.push({ round, elapsedMs: measured.elapsedMs, bytesPerSecond, peakRssKiB: measured.peakRssKiB })
      log(`round ${round + 1}/${options.runs}  ${contender.label.padEnd(18)} ${fmt(measured.elapsedMs / 1000, 2)} s  ` +
        `${fmt(bytesPerSecond / 1e9, 3)} GB/s  peak RSS ${fmt(measured.peakRssKiB / 1024, 1)} MiB`)
      if (round === 0) {
        if (contender.name === 'hash' || contender.name === 'readback') cliResults[contender.name] = parseCliResult(contender, measured.stdout)
        assertIdentical(contender, srcPath, dstPath)
        log(`  cmp: ${contender.label} copy is byte-identical to the source`)
      }
      rmSync(dstPath, { force: true })
    }
  }

  const summaries = contenders.map((contender) =>
    summarize(contender.name, contender.label, shellLine(contender.command('SRC', 'DST')), runs.get(contender.name) ?? []))
  const ratios = computeRatios(summaries)
  const targets = computeTargets(summaries, options.memoryBudgetBytes)
  const header = [
    `copy of ${fmt(options.sizeBytes / MIB, 0)} MiB, ${options.runs} run(s) per contender, interleaved, order rotated per round`,
    cacheMode.kind === 'cold' ? 'cold cache (caches dropped before every run)' : `WARM cache: ${cacheMode.reason}`,
    'dd has conv=fdatasync added so its copy is durable like the others; cp is timed together with sync',
    `blockcopy memory budget: ${fmt(options.memoryBudgetBytes / MIB, 0)} MiB${options.blockcopyArgs.length > 0 ? `; extra args: ${options.blockcopyArgs.join(' ')}` : ''}`,
    '',
    '',
  ].join('\n')
  const report = header + formatReport(summaries, ratios, targets)
  if (options.json) log(`\n${report}`)
  else process.stdout.write(`\n${report}\n`)

  const result = {
    benchmark: 'copy-vs-tools',
    date: new Date().toISOString(),
    machine: machineInfo(),
    config: {
      sizeBytes: options.sizeBytes,
      runs: options.runs,
      dir: { fsType: mount.fsType, device: mount.source, mountPoint: mount.target },
      cache: cacheMode,
      contenders: options.only,
      blockcopyArgs: options.blockcopyArgs,
      memoryBudgetBytes: options.memoryBudgetBytes,
      sourceWriteMs: writeMs,
    },
    contenders: summaries,
    ratios,
    targets,
    blockcopyResults: cliResults,
  }
  const json = JSON.stringify(result, null, 2)
  if (options.json) process.stdout.write(`${json}\n`)
  if (options.out !== undefined) {
    writeFileSync(options.out, `${json}\n`)
    log(`result written to ${options.out}`)
  }
}

let exitCode = 0
try {
  const options = parseOptions(process.argv.slice(2))
  if (options === undefined) {
    process.stdout.write(`${USAGE}\n`)
  } else {
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    await main(options)
  }
} catch (error: unknown) {
  if (error instanceof UsageError) {
    log(`error: ${error.message}\n(npm run bench:copy -- --help for the options)`)
    exitCode = 2
  } else if (error instanceof BenchFailure) {
    log(error.message)
    exitCode = error.exitCode
  } else {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error))
    exitCode = 1
  }
} finally {
  cleanup()
}
process.exitCode = exitCode
