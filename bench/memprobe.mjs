// Preloaded with `node --import ./bench/memprobe.mjs ...`: samples the main
// thread's memory every 0.4 s and prints, at exit, one line of
// RSS/heap total/heap used in MiB per sample (BENCHMARKS.md, "Memory levels off").
import { isMainThread } from 'node:worker_threads'

if (isMainThread) {
  const samples = []
  const mib = (bytes) => (bytes / 1048576).toFixed(0)
  const timer = setInterval(() => {
    const m = process.memoryUsage()
    samples.push(`${mib(m.rss)}/${mib(m.heapTotal)}/${mib(m.heapUsed)}`)
  }, 400)
  timer.unref()
  process.on('exit', () => process.stderr.write(`rss/heapTotal/heapUsed MiB every 0.4 s: ${samples.join(' ')}\n`))
}
