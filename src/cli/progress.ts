import cliProgress from 'cli-progress'
import type { Job, Progress } from '../job.js'
import { formatBytes } from '../units.js'

/**
 * A job's progress on stderr: a bar on a terminal, NDJSON lines when asked
 * (`--progress ndjson`), nothing otherwise. While a bar is drawn it owns the
 * terminal's current line, and cli-progress returns the cursor to where the
 * bar started when it stops: anything else written in the meantime (on
 * stderr or stdout) would be drawn over. So every message goes through
 * say(), and the bar is stopped before anything else is printed.
 */
export interface ProgressDisplay {
  /** Writes text on stderr, starting on a line of its own: a bar is stopped first, for good, its last state kept on its line. */
  say(text: string): void
  /** Stops the display; idempotent. The bar's last state stays on its own line, the cursor on the next. */
  stop(): void
  /** A bar is being drawn now. */
  readonly drawing: boolean
}

/** Shows a job's progress on stderr until stop() (or say()). */
export function showProgress(job: Job, mode: 'auto' | 'ndjson' | 'none'): ProgressDisplay {
  const plain = (off: () => void): ProgressDisplay => ({
    say: (text) => process.stderr.write(text),
    stop: off,
    drawing: false,
  })
  if (mode === 'ndjson') {
    const onProgress = (p: Progress) => {
      process.stderr.write(`${JSON.stringify({ event: 'progress', jobId: job.id, ...p })}\n`)
    }
    job.on('progress', onProgress)
    return plain(() => job.off('progress', onProgress))
  }
  if (mode === 'none' || !process.stderr.isTTY) return plain(() => undefined)
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      // Payload names must not be cli-progress's own tokens ({total}, {value}).
      // The bar, its percentage and the rate count only what is done; failures are shown apart.
      format: ' {bar} {percentage}% | {doneText} of {totalText}{failedText} | {rate}/s | ETA {eta_formatted}',
      hideCursor: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  )
  const started = performance.now()
  bar.start(job.totalBytes || 1, 0, { doneText: formatBytes(0), totalText: formatBytes(job.totalBytes), failedText: '', rate: formatBytes(0) })
  const onProgress = (p: Progress) => {
    const seconds = (performance.now() - started) / 1000
    bar.update(p.doneBytes, {
      doneText: formatBytes(p.doneBytes),
      totalText: formatBytes(job.totalBytes),
      failedText: p.failedBytes > 0 ? `, failed ${formatBytes(p.failedBytes)}` : '',
      rate: formatBytes(seconds > 0 ? Math.round(p.doneBytes / seconds) : 0),
    })
  }
  job.on('progress', onProgress)
  let drawing = true
  const stop = () => {
    if (!drawing) return
    drawing = false
    job.off('progress', onProgress)
    // Draws the last state, puts the cursor back where the bar started (nothing else was written since), then a newline.
    bar.stop()
  }
  return {
    say: (text) => {
      stop()
      process.stderr.write(text)
    },
    stop,
    get drawing() {
      return drawing
    },
  }
}
