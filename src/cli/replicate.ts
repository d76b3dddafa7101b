import { readFileSync } from 'node:fs'
import { Option, type Command } from 'commander'
import { BlockcopyError } from '../errors.js'
import type { ReplicateRange } from '../replicate/ranges.js'
import { parseSize } from '../units.js'
import { addEngineOptions, collect, runJob, withClient, type EngineFlags } from './common.js'
import { exitCodeFor } from './exit.js'
import { printResult } from './report.js'

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
    throw new BlockcopyError('INVALID_ARGUMENT', `${where}: expected SRC_OFF DST_OFF LEN, got '${fields.join(' ')}'`, where)
  }
  const [s, d, l] = fields as [string, string, string]
  return { srcOffset: parseSize(s, `${where} SRC_OFF`), dstOffset: parseSize(d, `${where} DST_OFF`), length: parseSize(l, `${where} LEN`) }
}

/** A ranges file: one `SRC_OFF DST_OFF LEN` per line; `#` starts a comment; blank lines are skipped. */
export function readRangesFile(file: string): ReplicateRange[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new BlockcopyError('NOT_FOUND_VOLUME', `--ranges: cannot read ${file}: ${(err as Error).message}`, 'ranges')
  }
  const out: ReplicateRange[] = []
  text.split('\n').forEach((line, i) => {
    const body = (line.split('#')[0] ?? '').trim()
    if (body) out.push(parseRange(body.split(/\s+/), `--ranges ${file} line ${i + 1}`))
  })
  return out
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
      .addOption(new Option('--verify <mode>', 'none, hash or readback (copies only)').choices(['none', 'hash', 'readback']).default('none')),
  ).action(async (src: string, dst: string, f: ReplicateFlags) => {
    const ranges = f.range.map((r, i) => parseRange(r.split(':'), `--range ${i + 1}`))
    if (f.ranges !== undefined) ranges.push(...readRangesFile(f.ranges))
    if (ranges.length === 0) throw new BlockcopyError('INVALID_ARGUMENT', 'ranges: give at least one --range SRC_OFF:DST_OFF:LEN or a --ranges FILE', 'ranges')
    setExit(await withClient(f, async (client) => {
      const controller = new AbortController()
      const job = client.replicate(src, dst, ranges, {
        type: f.type, verify: f.verify, ignoreErrors: f.ignoreErrors === true, signal: controller.signal,
        ...(f.fallback ? { fallback: f.fallback } : {}),
      })
      const result = await runJob(job, f, controller)
      printResult(result, { source: src, destinations: [dst], json: f.json === true, backend: client.backend })
      return exitCodeFor(result)
    }))
  })
}
