import { BlockcopyError, SystemError } from '../errors.js'
import { classify } from '../error-classes.js'
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

/** The exit code for one path's error: the device failing (EIO, ENOSPC, ...) is an I/O error, anything else bad input. */
export function exitCodeForError(err: BlockcopyError | SystemError): number {
  return err instanceof SystemError && classify(err.code) !== 'fatal' ? EXIT.ioErrors : EXIT.badInput
}

/** An error as one line after `blockcopy: `, with its code once and the command-line names of its arguments. */
export function errorLine(err: BlockcopyError | SystemError): string {
  const message = cliMessage(err)
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

/** The command-line spelling of each library argument, so messages name what the user typed. */
const CLI_NAMES: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/^chunkBytes/, () => '--chunk'],
  [/^memoryBytes/, () => '--memory'],
  [/^threads/, () => '--threads'],
  [/^direct/, () => '--direct'],
  [/^verify/, () => '--verify'],
  [/^from\.path/, () => 'SRC'],
  [/^from\.offset/, () => '--src-offset'],
  [/^from\.length|^length/, () => '--length'],
  [/^to\[(\d+)\]\.path/, (m) => `DST ${Number(m[1]) + 1}`],
  [/^to\[(\d+)\]\.offset/, (m) => `--dst-offset (DST ${Number(m[1]) + 1})`],
  [/^to\[(\d+)\]\.length/, () => '--length'],
  [/^to\[(\d+)\]/, (m) => `DST ${Number(m[1]) + 1}`],
  [/^to\b/, () => 'DST'],
  [/^from\b/, () => 'SRC'],
  [/^source\b/, () => 'SRC'],
  [/^dest\b/, () => 'DST'],
  [/^type\b/, () => '--type'],
  [/^fallback\b/, () => '--fallback'],
  [/^algo\b/, () => '--algo'],
  [/^path\b/, () => 'FILE'],
  [/^replicas\[(\d+)\]/, (m) => `REPLICA ${Number(m[1]) + 1}`],
  [/^replicas\b/, () => 'REPLICA'],
  [/^ranges\[(\d+)\]\.(offset|length|srcOffset|dstOffset)/, (m) => `--range ${Number(m[1]) + 1} (${RANGE_FIELDS[m[2] as string] ?? ''})`],
  [/^ranges\[(\d+)\]/, (m) => `--range ${Number(m[1]) + 1}`],
  [/^manifest\.chunkBytes|^manifest\b/, () => '--manifest'],
  [/^since\b/, () => '--since'],
  [/^force\b/, () => '--force'],
  [/^checkDest\b/, () => '--check-dest'],
  [/^mapIntervalMs\b/, () => '--map-interval'],
  [/^retryBad\b/, () => '--retry-bad'],
  [/^fillBad\b/, () => '--fill-bad'],
  [/^map\b/, () => '--map'],
  [/^rateBytesPerSec\b/, () => '--rate'],
]

/** Rewrites the argument a library message starts with into its command-line name. */
export function cliMessage(err: BlockcopyError | SystemError): string {
  // A system error may name the argument after its code: "EROFS: to[1].path: ...".
  const code = err instanceof BlockcopyError ? '' : (/^E[A-Z0-9]+: /.exec(err.message)?.[0] ?? '')
  if (!(err instanceof BlockcopyError) && code === '') return err.message
  const text = err.message.slice(code.length)
  for (const [re, name] of CLI_NAMES) {
    const m = re.exec(text)
    if (m) return `${code}${name(m)}${text.slice(m[0].length).replace(/^\.path|^\.offset|^\.length/, '')}`
  }
  return err.message
}

/** Errors that mean the input was wrong and nothing was written. */
export function isBadInput(err: unknown): err is BlockcopyError | SystemError {
  return err instanceof BlockcopyError || err instanceof SystemError
}
