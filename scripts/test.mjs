#!/usr/bin/env node
// The `npm test` runner: runs each test/*.test.ts file in its own
// `node --import tsx` process (so Piscina workers written in TypeScript get the
// loader too, and one suite's open handles cannot stall the others), then
// prints the totals as one line: `N passed, N failed[, N skipped]`.
//
//   npm test                     every file
//   npm test -- copy- verify     only files whose name matches one of the patterns
//
// A test that prints `# skip: REASON` (test/helpers/root.ts logSkip) counts as
// skipped, not passed. A file that crashes, prints no totals, times out, or
// does not exit soon after its last test counts as one more failure.
// BLOCKCOPY_TEST_TIMEOUT_S sets the per-file limit (default 600).
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const testDir = join(root, 'test')
const timeoutMs = Number(process.env.BLOCKCOPY_TEST_TIMEOUT_S ?? 600) * 1000
// After uvu prints its totals the process should exit; give it this long.
const exitGraceMs = 10_000

/** Removes ANSI colour and cursor sequences. */
// eslint-disable-next-line no-control-regex -- ESC is exactly what is matched
const stripAnsi = (text) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')

/** A predicate for one command-line pattern: a regular expression, or a plain substring if invalid. */
function matcher(pattern) {
  try {
    const re = new RegExp(pattern)
    return (name) => re.test(name)
  } catch {
    return (name) => name.includes(pattern)
  }
}

/** The last number after `label:` in text, or null. */
function lastNumber(text, label) {
  const all = [...text.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))]
  const last = all.at(-1)
  return last ? Number(last[1]) : null
}

let current = null
process.on('SIGINT', () => {
  if (current) killGroup(current)
  process.exit(130)
})

/** Kills a child and everything it started (it leads its own process group). */
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    child.kill('SIGKILL')
  }
}

/** Runs one test file; resolves to { passed, failed, skipped, problem, ms }. */
function runFile(file) {
  return new Promise((resolveRun) => {
    const started = Date.now()
    const env = { ...process.env }
    if (process.stdout.isTTY && env.FORCE_COLOR === undefined) env.FORCE_COLOR = '1'
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    current = child
    let output = ''
    let problem = null
    let graceTimer = null
    const limit = setTimeout(() => {
      problem = `timed out after ${timeoutMs / 1000} s`
      killGroup(child)
    }, timeoutMs)
    const collect = (sink) => (chunk) => {
      sink.write(chunk)
      output += chunk.toString('utf8')
      if (!graceTimer && /Duration:/.test(stripAnsi(output))) {
        graceTimer = setTimeout(() => {
          problem = `still running ${exitGraceMs / 1000} s after its tests finished (open handles?)`
          killGroup(child)
        }, exitGraceMs)
      }
    }
    child.stdout.on('data', collect(process.stdout))
    child.stderr.on('data', collect(process.stderr))
    child.on('error', (err) => {
      problem = `could not start: ${err.message}`
    })
    child.on('close', (code, signal) => {
      clearTimeout(limit)
      clearTimeout(graceTimer)
      current = null
      const text = stripAnsi(output)
      const total = lastNumber(text, 'Total')
      const passedRaw = lastNumber(text, 'Passed')
      const skippedRaw = lastNumber(text, 'Skipped') ?? 0
      const skipMarks = (text.match(/# skip:/g) ?? []).length
      let passed = 0
      let failed = 0
      let skipped = skippedRaw
      if (total === null || passedRaw === null) {
        problem ??= `printed no totals (exit ${code ?? signal})`
      } else {
        passed = Math.max(0, passedRaw - skipMarks)
        skipped += Math.min(skipMarks, passedRaw)
        failed = total - passedRaw
        if (code !== 0 && failed === 0) problem ??= `exited with ${code ?? signal} after its tests passed`
      }
      if (problem) failed += 1
      resolveRun({ passed, failed, skipped, problem, ms: Date.now() - started })
    })
  })
}

const patterns = process.argv.slice(2).map(matcher)
const files = readdirSync(testDir)
  .filter((name) => name.endsWith('.test.ts'))
  .filter((name) => patterns.length === 0 || patterns.some((match) => match(name)))
  .sort()
  .map((name) => relative(root, join(testDir, name)))

if (files.length === 0) {
  console.error(`no test files in test/ match ${process.argv.slice(2).join(' ') || '*.test.ts'}`)
  console.log('0 passed, 0 failed')
  process.exit(1)
}

const totals = { passed: 0, failed: 0, skipped: 0 }
const rows = []
for (const file of files) {
  process.stdout.write(`\n=== ${file}\n`)
  const result = await runFile(file)
  totals.passed += result.passed
  totals.failed += result.failed
  totals.skipped += result.skipped
  rows.push({ file, ...result })
  if (result.problem) process.stdout.write(`\n!!! ${file}: ${result.problem}\n`)
}

process.stdout.write('\n')
for (const row of rows) {
  const mark = row.failed > 0 ? 'FAIL' : 'ok  '
  const counts = `${row.passed} passed, ${row.failed} failed, ${row.skipped} skipped`
  process.stdout.write(`${mark} ${row.file.padEnd(48)} ${counts.padEnd(36)} ${(row.ms / 1000).toFixed(1)} s\n`)
}
const skippedPart = totals.skipped > 0 ? `, ${totals.skipped} skipped` : ''
process.stdout.write(`${totals.passed} passed, ${totals.failed} failed${skippedPart}\n`)
process.exit(totals.failed > 0 ? 1 : 0)
