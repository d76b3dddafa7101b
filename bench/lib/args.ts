/**
 * Command-line options of bench/copy-vs-tools.ts: parsed and checked once,
 * here, with defaults applied in one place.
 */
import { parseArgs } from 'node:util'

/** Contenders by their short name, in the order they are listed in the report. */
export const CONTENDER_NAMES = ['cp', 'dd', 'hash', 'readback'] as const
export type ContenderName = (typeof CONTENDER_NAMES)[number]

/** Memory budget blockcopy uses when `--memory` is not passed to it. */
export const DEFAULT_MEMORY_BUDGET_BYTES = 64 * 1024 * 1024

/** Everything the comparison needs to know, fully defaulted. */
export interface BenchOptions {
  sizeBytes: number
  runs: number
  /** Where the source and destination files go; undefined: pick one on the repository's disk. */
  dir: string | undefined
  only: ContenderName[]
  /** Extra arguments appended to every blockcopy invocation. */
  blockcopyArgs: string[]
  /** blockcopy's memory budget, from `--memory` in blockcopyArgs, else the default. */
  memoryBudgetBytes: number
  json: boolean
  out: string | undefined
}

/** Thrown for bad command-line input; the harness exits 2. */
export class UsageError extends Error {
  readonly code = 'INVALID_ARGUMENT'
}

export const USAGE = `usage: npm run bench:copy -- [options]

Copies one file with cp+sync, dd (O_DIRECT, conv=fdatasync) and blockcopy
(--verify hash, --verify readback), interleaved, and prints throughput,
peak RSS, ratios and targets.

  --size SIZE             source size (default 2GiB; e.g. 256MiB, 4GiB)
  --runs N                timed runs per contender (default 3)
  --dir DIR               directory for the files (default: a temp dir on
                          the repository's disk, never tmpfs)
  --only LIST             contenders to run, comma-separated from
                          cp,dd,hash,readback (default: all)
  --blockcopy-args "..."  extra flags for blockcopy, e.g. "--threads 4 --chunk 4MiB"
  --json                  print the whole result as JSON on stdout (table to stderr)
  --out FILE              also write the JSON result to FILE
  -h, --help              this text`

const UNIT_BYTES: Record<string, number> = {
  '': 1, b: 1, s: 512,
  k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
}

/**
 * Parses `512`, `4KiB`, `256MiB`, `2GiB`, `8s` (512-byte sectors), `1G`
 * (binary, like dd) or `1GB` (decimal) into bytes.
 */
export function parseSizeBytes(text: string, option: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = UNIT_BYTES[(match?.[2] ?? '').toLowerCase()]
  if (match === null || unit === undefined) {
    throw new UsageError(`${option}: "${text}" is not a size (use e.g. 512, 4KiB, 256MiB, 2GiB, 8s)`)
  }
  const bytes = Number(match[1]) * unit
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new UsageError(`${option}: "${text}" must be a positive whole number of bytes`)
  }
  return bytes
}

/** Finds `--memory X` or `--memory=X` among blockcopy's extra arguments. */
function memoryBudgetFrom(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ''
    if (arg.startsWith('--memory=')) return parseSizeBytes(arg.slice('--memory='.length), '--blockcopy-args --memory')
    if (arg === '--memory') {
      const value = args[i + 1]
      if (value === undefined) throw new UsageError('--blockcopy-args: --memory needs a size')
      return parseSizeBytes(value, '--blockcopy-args --memory')
    }
  }
  return DEFAULT_MEMORY_BUDGET_BYTES
}

/**
 * `--blockcopy-args "--threads 4"` has a value that starts with a dash, which
 * parseArgs refuses as ambiguous; joining it as `--blockcopy-args=...` says
 * it is a value.
 */
function joinDashedValues(argv: string[]): string[] {
  const joined: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const value = argv[i + 1]
    if (arg === '--blockcopy-args' && value !== undefined) {
      joined.push(`${arg}=${value}`)
      i++
    } else {
      joined.push(arg)
    }
  }
  return joined
}

/** Returns undefined when help was asked for. */
export function parseOptions(argv: string[]): BenchOptions | undefined {
  let parsed
  try {
    parsed = parseArgs({
      args: joinDashedValues(argv),
      strict: true,
      allowPositionals: false,
      options: {
        size: { type: 'string', default: '2GiB' },
        runs: { type: 'string', default: '3' },
        dir: { type: 'string' },
        only: { type: 'string' },
        'blockcopy-args': { type: 'string', default: '' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (error: unknown) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  const values = parsed.values
  if (values.help === true) return undefined

  const sizeBytes = parseSizeBytes(values.size ?? '2GiB', '--size')
  // dd with oflag=direct needs every write, including the last, to be sector-aligned.
  if (sizeBytes % (1024 * 1024) !== 0) {
    throw new UsageError(`--size: ${sizeBytes} bytes must be a multiple of 1 MiB (dd oflag=direct needs aligned writes)`)
  }
  const runs = Number(values.runs)
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
    throw new UsageError(`--runs: "${values.runs}" must be a whole number from 1 to 100`)
  }
  let only: ContenderName[] = [...CONTENDER_NAMES]
  if (values.only !== undefined) {
    const names = values.only.split(',').map((name) => name.trim()).filter((name) => name !== '')
    for (const name of names) {
      if (!(CONTENDER_NAMES as readonly string[]).includes(name)) {
        throw new UsageError(`--only: "${name}" is not a contender (choose from ${CONTENDER_NAMES.join(',')})`)
      }
    }
    if (names.length === 0) throw new UsageError('--only: name at least one contender')
    only = CONTENDER_NAMES.filter((name) => names.includes(name))
  }
  const blockcopyArgs = (values['blockcopy-args'] ?? '').split(/\s+/).filter((arg) => arg !== '')
  return {
    sizeBytes,
    runs,
    dir: values.dir,
    only,
    blockcopyArgs,
    memoryBudgetBytes: memoryBudgetFrom(blockcopyArgs),
    json: values.json === true,
    out: values.out,
  }
}
