/**
 * Turns runs into figures: per-contender summaries, ratios against the peers,
 * the project's targets with PASS / MISS, and the printed table.
 */
import type { ContenderName } from './args.js'

const MIB = 1024 * 1024

/** One timed run, as kept in the JSON result. */
export interface RunRecord {
  round: number
  elapsedMs: number
  bytesPerSecond: number
  peakRssKiB: number
}

/** Medians and spread of one contender's runs. */
export interface ContenderSummary {
  name: ContenderName
  label: string
  command: string
  runs: RunRecord[]
  medianBytesPerSecond: number
  minBytesPerSecond: number
  maxBytesPerSecond: number
  medianPeakRssKiB: number
  maxPeakRssKiB: number
}

export interface Ratio {
  label: string
  value: number | undefined
}

/** Whether the actual figure must reach the limit (throughput) or stay under it (memory). */
export type Bound = 'at-least' | 'at-most'

/** A target is met, missed (by shortfallPercent), or could not be judged. */
export type TargetResult =
  | { label: string; status: 'PASS'; bound: Bound; actual: number; limit: number }
  | { label: string; status: 'MISS'; bound: Bound; actual: number; limit: number; shortfallPercent: number }
  | { label: string; status: 'n/a'; reason: string }

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return NaN
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2
}

export function summarize(name: ContenderName, label: string, command: string, runs: RunRecord[]): ContenderSummary {
  const rates = runs.map((run) => run.bytesPerSecond)
  const rss = runs.map((run) => run.peakRssKiB)
  return {
    name,
    label,
    command,
    runs,
    medianBytesPerSecond: median(rates),
    minBytesPerSecond: Math.min(...rates),
    maxBytesPerSecond: Math.max(...rates),
    medianPeakRssKiB: median(rss),
    maxPeakRssKiB: Math.max(...rss),
  }
}

function rate(summaries: ContenderSummary[], name: ContenderName): number | undefined {
  return summaries.find((summary) => summary.name === name)?.medianBytesPerSecond
}

function divide(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b
}

/** Ratios of median throughputs; undefined where a contender was not run. */
export function computeRatios(summaries: ContenderSummary[]): Ratio[] {
  const cp = rate(summaries, 'cp')
  return [
    { label: 'blockcopy hash / (cp+sync)', value: divide(rate(summaries, 'hash'), cp) },
    { label: 'blockcopy readback / (cp+sync)', value: divide(rate(summaries, 'readback'), cp) },
    { label: 'blockcopy hash / dd', value: divide(rate(summaries, 'hash'), rate(summaries, 'dd')) },
  ]
}

function atLeast(label: string, actual: number | undefined, limit: number, missing: string): TargetResult {
  if (actual === undefined) return { label, status: 'n/a', reason: missing }
  if (actual >= limit) return { label, status: 'PASS', bound: 'at-least', actual, limit }
  return { label, status: 'MISS', bound: 'at-least', actual, limit, shortfallPercent: ((limit - actual) / limit) * 100 }
}

/**
 * The targets: hash >= 1.3x cp+sync, readback >= 1.0x cp+sync, and each
 * blockcopy contender's worst peak RSS <= its memory budget + 150 MiB.
 */
export function computeTargets(summaries: ContenderSummary[], memoryBudgetBytes: number): TargetResult[] {
  const ratios = computeRatios(summaries)
  const targets = [
    atLeast('hash >= 1.3x cp+sync', ratios[0]?.value, 1.3, 'needs hash and cp'),
    atLeast('readback >= 1.0x cp+sync', ratios[1]?.value, 1.0, 'needs readback and cp'),
  ]
  const limitMiB = memoryBudgetBytes / MIB + 150
  for (const name of ['hash', 'readback'] as const) {
    const label = `${name} peak RSS <= ${fmt(limitMiB, 0)} MiB (budget + 150, max over runs)`
    const summary = summaries.find((candidate) => candidate.name === name)
    if (summary === undefined) {
      targets.push({ label, status: 'n/a', reason: `${name} not run` })
      continue
    }
    const actualMiB = summary.maxPeakRssKiB / 1024
    targets.push(
      actualMiB <= limitMiB
        ? { label, status: 'PASS', bound: 'at-most', actual: actualMiB, limit: limitMiB }
        : {
            label,
            status: 'MISS',
            bound: 'at-most',
            actual: actualMiB,
            limit: limitMiB,
            shortfallPercent: ((actualMiB - limitMiB) / limitMiB) * 100,
          },
    )
  }
  return targets
}

export function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-'
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  return rows
    .map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  '))
    .join('\n')
}

/** The human-readable report: table, ratios, targets. */
export function formatReport(summaries: ContenderSummary[], ratios: Ratio[], targets: TargetResult[]): string {
  const rows = [['contender', 'runs', 'median GB/s', 'median MiB/s', 'min GB/s', 'max GB/s', 'median peak RSS MiB']]
  for (const s of summaries) {
    rows.push([
      s.label,
      String(s.runs.length),
      fmt(s.medianBytesPerSecond / 1e9, 3),
      fmt(s.medianBytesPerSecond / MIB, 0),
      fmt(s.minBytesPerSecond / 1e9, 3),
      fmt(s.maxBytesPerSecond / 1e9, 3),
      fmt(s.medianPeakRssKiB / 1024, 1),
    ])
  }
  const lines = [table(rows), '', 'ratios (median throughput):']
  for (const ratio of ratios) {
    lines.push(`  ${ratio.label.padEnd(32)} ${ratio.value === undefined ? 'n/a (not run)' : `${fmt(ratio.value, 2)}x`}`)
  }
  lines.push('', 'targets:')
  for (const target of targets) {
    const detail =
      target.status === 'n/a'
        ? target.reason
        : target.status === 'PASS'
          ? `actual ${fmt(target.actual, 2)}, limit ${fmt(target.limit, 2)}`
          : `actual ${fmt(target.actual, 2)}, limit ${fmt(target.limit, 2)}, ${target.bound === 'at-least' ? 'short' : 'over'} by ${fmt(target.shortfallPercent, 1)}%`
    lines.push(`  ${target.status.padEnd(4)}  ${target.label}: ${detail}`)
  }
  return lines.join('\n')
}
