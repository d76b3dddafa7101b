import type { Command } from 'commander'

import { loadBackend } from '../io/index.js'
import { probeCapabilities, type Capabilities, type Support } from '../caps/caps.js'
import { formatBytes } from '../units.js'
import { cliMessage, errorLine, exitCodeForError, isBadInput, worstExit } from './exit.js'

interface CapsFlags {
  json?: boolean
}

/** "yes  detail" or "no   reason". */
function answer(s: Support, detail = ''): string {
  if (s.supported) return detail ? `yes  ${detail}` : 'yes'
  return `no   ${s.reason}`
}

/** One path's capabilities as an aligned two-column block for people. */
function table(c: Capabilities): string {
  const what = c.kind === 'blockDevice' ? 'block device' : c.exists ? 'file' : 'file, not yet created: its directory was probed'
  const direct = c.direct.supported
    ? `memory ${c.direct.memAlignBytes} B, offset ${c.direct.offsetAlignBytes} B aligned (${c.direct.alignSource})`
    : ''
  const rows: Array<[string, string]> = [
    ['size', formatBytes(c.sizeBytes)],
    ['block sizes', `logical ${c.logicalBlockBytes} B, physical ${c.physicalBlockBytes} B`],
    ['replicate block', `${c.replicateBlockBytes} B`],
    ['io backend', c.io.reason ? `${c.io.kind} (${c.io.reason})` : c.io.kind],
    ['direct I/O', answer(c.direct, direct)],
    ['clone (reflink)', answer(c.clone, c.clone.supported ? `block ${c.clone.blockBytes} B` : '')],
    ['copy_file_range', answer(c.copyFileRange)],
    ['zero-out', c.zeroOut.supported ? answer(c.zeroOut, c.zeroOut.method) : `${answer(c.zeroOut)} (zero uses: ${c.zeroOut.method})`],
    ['sparse (holes)', answer(c.sparse)],
    ['checkpoint', answer(c.checkpoint, 'copy --since --baseline reads only what changed')],
  ]
  const width = Math.max(...rows.map(([k]) => k.length)) + 2
  return [`${c.path}  (${what})`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}${v}`)].join('\n')
}

/** A path that could not be probed, as --json lists it among the others. */
interface PathError {
  path: string
  error: { code: string; message: string }
}

/**
 * `blockcopy caps PATH... [--json]`: what each path supports, and why not.
 * Each path is reported in turn: a bad one (missing with a missing
 * directory, a directory, a character device) as an error line on stderr
 * (and an entry with `error` in --json), and the rest still probed; the exit
 * code is the worst of them (src/cli/exit.ts worstExit).
 */
export function registerCaps(program: Command, setExit: (code: number) => void): void {
  program.command('caps')
    .description('what each path supports (direct I/O, clone, copy_file_range, zero-out, holes), and why not')
    .argument('<path...>', 'files, block devices, or files still to be created (their directory is probed)')
    .option('--json', 'print one JSON array, one object per path')
    .action((paths: string[], f: CapsFlags) => {
      const io = loadBackend()
      const entries: Array<Capabilities | PathError> = []
      const codes: number[] = []
      paths.forEach((p, i) => {
        let c: Capabilities
        try {
          c = probeCapabilities(io, p, `PATH ${i + 1}`)
        } catch (err) {
          if (!isBadInput(err)) throw err
          entries.push({ path: p, error: { code: err.code, message: cliMessage(err) } })
          codes.push(exitCodeForError(err))
          process.stderr.write(`blockcopy: ${errorLine(err)}\n`)
          return
        }
        if (!f.json) process.stdout.write(`${entries.some((e) => !('error' in e)) ? '\n' : ''}${table(c)}\n`)
        entries.push(c)
      })
      if (f.json) process.stdout.write(`${JSON.stringify(entries)}\n`)
      setExit(worstExit(codes))
    })
}
