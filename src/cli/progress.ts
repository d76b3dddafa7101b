import cliProgress from 'cli-progress'
import type { Job } from '../job.js'
import { formatBytes } from '../units.js'

/**
 * Shows a job's progress on stderr: a bar on a terminal, NDJSON lines when
 * asked (`--progress ndjson`), nothing otherwise. Returns a function that
 * stops the display.
 */
export function showProgress(job: Job, mode: 'auto' | 'ndjson' | 'none'): () => void {
  if (mode === 'ndjson') {
    const onProgress = (p: { doneBytes: number; totalBytes: number; extent: { offset: number; length: number }; ok: boolean }) => {
      process.stderr.write(`${JSON.stringify({ event: 'progress', jobId: job.id, ...p })}\n`)
    }
    job.on('progress', onProgress)
    return () => job.off('progress', onProgress)
  }
  if (mode === 'none' || !process.stderr.isTTY) return () => undefined
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      // Payload names must not be cli-progress's own tokens ({total}, {value}).
      format: ' {bar} {percentage}% | {doneText} of {totalText} | {rate}/s | ETA {eta_formatted}',
      hideCursor: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  )
  const started = performance.now()
  bar.start(job.totalBytes || 1, 0, { doneText: formatBytes(0), totalText: formatBytes(job.totalBytes), rate: formatBytes(0) })
  const onProgress = (p: { doneBytes: number }) => {
    const seconds = (performance.now() - started) / 1000
    bar.update(p.doneBytes, {
      doneText: formatBytes(p.doneBytes),
      totalText: formatBytes(job.totalBytes),
      rate: formatBytes(seconds > 0 ? Math.round(p.doneBytes / seconds) : 0),
    })
  }
  job.on('progress', onProgress)
  return () => {
    job.off('progress', onProgress)
    bar.stop()
  }
}
