import { readFileSync } from 'node:fs'
import { Option, type Command } from 'commander'
import { BlockcopyError } from '../errors.js'
import { quoted } from '../quote.js'
import type { ReplicateRange } from '../replicate/ranges.js'
import { parseSize } from '../units.js'
import { addEngineOptions, collect, runJob, withClient, type EngineFlags } from './common.js'
import { exitCodeFor } from './exit.js'
import { printResult } from './report.js'
import { checkReplicatePaths } from './paths.js'

interface ReplicateFlags extends EngineFlags {
  range: string[]
  ranges?: string
  type: 'clone' | 'copy'
  fallback?: 'copy'
  verify: 'none' | 'hash' | 'readback'
}

/** Parses `SRC_OFF:DST_OFF:LEN` (or the three fields of a ranges-file line), units allowed. */
export function parseRange(fields: string[], where: string): ReplicateRange {
  if (fields.length !== 3) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${where}: expected SRC_OFF DST_OFF LEN, got ${quoted(fields.join(' '))}`, where)
  }
  const [s, d, l] = fields as [string, string, string]
  return { srcOffset: parseSize(s, `${where} SRC_OFF`), dstOffset: parseSize(d, `${where} DST_OFF`), length: parseSize(l, `${where} LEN`) }
}

/** What the user typed for each range, by index: `--range N` for the flags, then `--ranges FILE line N`. */
export class RangeNames {
  private readonly lines: number[] = []
  private file = ''

  constructor(private readonly flags: number) {}

  /** Range `flags + k` is line `line` of `file` (one file per command). */
  fromFile(file: string, line: number): void {
    this.file = file
    this.lines.push(line)
  }

  name(i: number): string | undefined {
    if (i < this.flags) return `--range ${i + 1}`
    const line = this.lines[i - this.flags]
    return line === undefined ? undefined : `--ranges ${this.file} line ${line}`
  }
}

/**
 * A ranges file: one `SRC_OFF DST_OFF LEN` per line; `#` starts a comment;
 * blank lines are skipped. Its ranges are appended to `into` one by one: a
 * file may hold millions, more than a call's arguments can take.
 */
export function readRangesFile(file: string, into: ReplicateRange[] = [], names: RangeNames = new RangeNames(into.length)): ReplicateRange[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new BlockcopyError('NOT_FOUND_VOLUME', `--ranges: cannot read ${file}: ${(err as Error).message}`, 'ranges')
  }
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const body = (lines[i]?.split('#')[0] ?? '').trim()
    if (!body) continue
    into.push(parseRange(body.split(/\s+/), `--ranges ${file} line ${i + 1}`))
    names.fromFile(file, i + 1)
  }
  return into
}

/** The library's error with every ranges[i] it mentions named as the user gave it (--range 2, --ranges F line 4). */
function byName(err: BlockcopyError, names: RangeNames): BlockcopyError {
  const message = err.message.replace(/ranges\[(\d+)\](\.\w+)?/g, (all, i: string, field?: string) => {
    const name = names.name(Number(i))
    return name === undefined ? all : `${name}${field ? ` (${field.slice(1)})` : ''}`
  })
  return new BlockcopyError(err.code as ConstructorParameters<typeof BlockcopyError>[0], message, err.argument)
}

/** `blockcopy replicate SRC DST --range S:D:L ... | --ranges FILE --type clone|copy [--fallback copy]`. */
export function registerReplicate(prog: Command, setExit: (code: number) => void): void {
  addEngineOptions(
    prog.command('replicate')
      .description('copy or clone many ranges of SRC to DST (which may be SRC itself; overlaps behave like memmove)')
      .argument('<src>', 'source file or block device')
      .argument('<dst>', 'destination file or block device (may be the source)')
      .option('--range <SRC_OFF:DST_OFF:LEN>', 'a range to replicate; repeat for more', collect, [])
      .option('--ranges <file>', 'a file of ranges, one "SRC_OFF DST_OFF LEN" per line, # comments')
      .addOption(new Option('--type <type>', 'clone (share extents, reflink) or copy (move the bytes)').choices(['clone', 'copy']).makeOptionMandatory())
      .addOption(new Option('--fallback <type>', 'copy where a clone is not possible, instead of failing').choices(['copy']))
      .addOption(new Option('--verify <mode>', 'none, hash or readback; a clone is checked once made, in SRC and in DST: hash compares their digests, readback their bytes').choices(['none', 'hash', 'readback']).default('none')),
  ).action(async (src: string, dst: string, f: ReplicateFlags) => {
    checkReplicatePaths(src, dst, f.ranges)
    // What the user typed for each range, for messages about ranges[i].
    const names = new RangeNames(f.range.length)
    const ranges = f.range.map((r, i) => parseRange(r.split(':'), names.name(i) as string))
    if (f.ranges !== undefined) readRangesFile(f.ranges, ranges, names)
    if (ranges.length === 0) throw new BlockcopyError('INVALID_ARGUMENT', 'ranges: give at least one --range SRC_OFF:DST_OFF:LEN or a --ranges FILE', 'ranges')
    setExit(await withClient(f, async (client) => {
      const controller = new AbortController()
      let job
      try {
        job = client.replicate(src, dst, ranges, {
          type: f.type, verify: f.verify, ignoreErrors: f.ignoreErrors === true, signal: controller.signal,
          ...(f.fallback ? { fallback: f.fallback } : {}),
        })
      } catch (err) {
        throw err instanceof BlockcopyError ? byName(err, names) : err
      }
      const result = await runJob(job, f, controller)
      printResult(result, { source: src, destinations: [dst], json: f.json === true, backend: client.backend })
      return exitCodeFor(result)
    }))
  })
}
