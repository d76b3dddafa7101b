import { BlockcopyError, SystemError } from '../errors.js'
import { classify } from '../error-kinds.js'
import type { CopyResult } from '../job.js'

/** Exit codes, as DESIGN.md lists them. */
export const EXIT = {
  ok: 0,
  differences: 1,
  badInput: 2,
  ioErrors: 3,
  interrupted: 130,
} as const

/**
 * Exit codes from the least to the most severe: a command given several
 * paths (caps, hash) reports each and exits with the worst. I/O errors
 * outrank an interrupt (a partial failure must not look like a clean stop),
 * and an interrupt outranks bad input (the paths after it were not done).
 */
const SEVERITY: readonly number[] = [EXIT.ok, EXIT.differences, EXIT.badInput, EXIT.interrupted, EXIT.ioErrors]

/** The most severe of `codes` by SEVERITY (0 for none); a code not in it outranks them all. */
export function worstExit(codes: Iterable<number>): number {
  const rank = (c: number) => (SEVERITY.includes(c) ? SEVERITY.indexOf(c) : SEVERITY.length)
  let worst: number = EXIT.ok
  for (const c of codes) if (rank(c) > rank(worst)) worst = c
  return worst
}

/** System calls that read a file's bytes: an error in one is the file failing, not the path given. */
const READS: ReadonlySet<string> = new Set(['read', 'pread', 'preadv', 'readv'])

/**
 * The exit code for one path's error, one rule for every command and mode
 * (hash with --xxhsum or manifests, caps): the device failing (EIO, ENOSPC,
 * ... src/error-kinds.ts) or any error while the file's bytes were read is
 * an I/O error, 3, as a job's failed read is; anything before that (missing,
 * a directory, permission denied at open, a closed standard input) is bad
 * input, 2: the path given cannot be read at all.
 */
export function exitCodeForError(err: BlockcopyError | SystemError): number {
  if (!(err instanceof SystemError)) return EXIT.badInput
  return classify(err.code) !== 'fatal' || READS.has(err.syscall) ? EXIT.ioErrors : EXIT.badInput
}

/** An error as one line after `blockcopy: `, with its code once and the command-line names of its arguments. */
export function errorLine(err: BlockcopyError | SystemError, names: CliNames = {}): string {
  const message = cliMessage(err, names)
  // A system error's message already starts with its code ("EPERM: operation not permitted…").
  return message.startsWith(`${err.code}:`) ? message : `${err.code}: ${message}`
}

/** I/O errors win over interruption: a partial failure must not look like a clean stop. */
export function exitCodeFor(result: CopyResult): number {
  // A map that could not be saved is an I/O error too: the one on disk is behind.
  if (result.readErr || result.writeErr !== 0 || result.map?.saveError) return EXIT.ioErrors
  if (result.cancelled) return EXIT.interrupted
  return result.ok ? EXIT.ok : EXIT.ioErrors
}

const RANGE_FIELDS: Record<string, string> = { offset: 'OFF', length: 'LEN', srcOffset: 'SRC_OFF', dstOffset: 'DST_OFF' }

/** Library options and arguments by their command-line names; those without one the command line never sets. */
const FLAGS: Record<string, string> = {
  chunkBytes: '--chunk', memoryBytes: '--memory', threads: '--threads', direct: '--direct', verify: '--verify',
  length: '--length', type: '--type', fallback: '--fallback', algo: '--algo', path: 'FILE', manifest: '--manifest',
  since: '--since', force: '--force', checkDest: '--check-dest', baseline: '--baseline', checkpoint: '--checkpoint', map: '--map',
  mapIntervalMs: '--map-interval', retryBad: '--retry-bad', fillBad: '--fill-bad', rateBytesPerSec: '--rate', rate: '--rate',
  ignoreErrors: '--ignore-errors', sequentialWrites: '--sequential', sparse: '--sparse', all: '--all', output: '-o',
  from: 'SRC', source: 'SRC', to: 'DST', dest: 'DST', replicas: 'REPLICA', ranges: '--range',
}

/**
 * What the names of a message depend on in the command that was run: how
 * many DSTs it was given. With one, the command line calls it `DST` (its
 * usage and its own checks do, src/cli/paths.ts), so the library's `to[0]`
 * is `DST` too, never a `DST 1` the user never saw; with several, `DST 1`,
 * `DST 2`... Unknown (a refusal before the command's arguments were read):
 * numbered, which is right either way.
 */
export interface CliNames {
  dstCount?: number
  /** The flag the reflink baseline was given by: `--baseline`, or `--checkpoint`, its old name (the library is told `baseline` either way). */
  baselineFlag?: string
}

/**
 * The command-line name of one library name: an option (`ignoreErrors`), a
 * region or one of its fields (`to[1].offset`, `from.length`), a range
 * (`ranges[0].srcOffset`) or a replica (`replicas[2]`); null for one the
 * command line has no name for.
 */
export function cliName(name: string, names: CliNames = {}): string | null {
  const m = /^(\w+)(?:\[(\d+)\])?(?:\.(\w+))?$/.exec(name)
  if (!m) return null
  const [, base = '', index, field] = m
  const n = index === undefined ? null : Number(index) + 1
  if (base === 'to' && n !== null) {
    const only = names.dstCount === 1
    if (field === 'offset') return only ? '--dst-offset' : `--dst-offset (DST ${n})`
    // A destination's own length is never typed (--length is the job's): it is the one the CLI took for DST n.
    return only ? 'DST' : `DST ${n}`
  }
  if (base === 'from' && field !== undefined) return ({ path: 'SRC', offset: '--src-offset', length: '--length' } as Record<string, string>)[field] ?? null
  if (base === 'replicas' && n !== null) return `REPLICA ${n}`
  if (base === 'ranges' && n !== null) return field === undefined ? `--range ${n}` : `--range ${n} (${RANGE_FIELDS[field] ?? field})`
  if (base === 'manifest' && field === 'chunkBytes') return '--manifest'
  if (field !== undefined || n !== null) return null
  if (base === 'baseline') return names.baselineFlag ?? '--baseline'
  return FLAGS[base] ?? null
}

/** A library name and what follows it at the start of a message: `to[1].path: ...`. */
const LEADING = /^(\w+(?:\[\d+\])?(?:\.\w+)?)(?=:)/
/** Region, range and replica names anywhere in a message: unmistakable, unlike a plain word such as "map". */
const INDEXED = /\b(?:(?:to|ranges|replicas)\[\d+\](?:\.\w+)?|from\.(?:path|offset|length)\b)/g
/**
 * An option a library message names in backticks: `ignoreErrors`, or with
 * its value, `fallback: 'copy'` (a flag and its value on the command line)
 * or `all: true` (a flag alone).
 */
const QUOTED = /`(\w+(?:\[\d+\])?(?:\.\w+)?)(?:: ('[^']*'|true))?`/g

/**
 * A library message as a command-line user must read it: every option,
 * region, range and replica by the name they typed (`--ignore-errors`,
 * `DST 2`, `--range 3 (LEN)`), whether it leads the message or is named
 * inside it. A name the command line has none for is left as it is.
 */
export function cliMessage(err: BlockcopyError | SystemError, names: CliNames = {}): string {
  // A system error may name the argument after its code: "EROFS: to[1].path: ...".
  const code = err instanceof BlockcopyError ? '' : (/^E[A-Z0-9]+: /.exec(err.message)?.[0] ?? '')
  if (!(err instanceof BlockcopyError) && code === '') return err.message
  return `${code}${cliText(err.message.slice(code.length), names)}`
}

/** A library text (a message, a note in a result) with every library name in it as cliMessage gives it. */
export function cliText(text: string, names: CliNames = {}): string {
  const leading = LEADING.exec(text)?.[1]
  const head = leading === undefined ? null : cliName(leading, names)
  return (head === null ? text : `${head}${text.slice((leading ?? '').length)}`)
    .replace(QUOTED, (all, name: string, value?: string) => {
      const flag = cliName(name, names)
      if (flag === null) return all
      if (value === undefined || value === 'true') return flag
      return `${flag} ${value.slice(1, -1)}`
    })
    .replace(INDEXED, (name) => cliName(name, names) ?? name)
}

/** Errors that mean the input was wrong and nothing was written. */
export function isBadInput(err: unknown): err is BlockcopyError | SystemError {
  return err instanceof BlockcopyError || err instanceof SystemError
}
