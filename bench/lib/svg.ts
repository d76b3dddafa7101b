/**
 * Two charts as one standalone SVG document, no dependencies: throughput
 * per tool (horizontal bars, median with a min-max whisker), and blockcopy's
 * throughput against its chunk size (a line with points).
 */

export interface Bar {
  label: string
  medianMBps: number
  minMBps: number
  maxMBps: number
  blockcopy: boolean
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const n = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '0')

export function chart(title: string, bars: Bar[], byChunk: Array<{ chunkBytes: number; medianMBps: number }>): string {
  const W = 1000
  const rowH = 26
  const left = 400
  const plotW = W - left - 90
  const top = 50
  const barsH = bars.length * rowH
  const max = Math.max(1, ...bars.map((b) => b.maxMBps))
  const x = (v: number) => left + (v / max) * plotW
  const out: string[] = []
  out.push(`<text x="20" y="28" font-size="18" font-weight="bold">${esc(title)}</text>`)
  bars.forEach((b, i) => {
    const y = top + i * rowH
    out.push(`<text x="${left - 8}" y="${y + 17}" font-size="13" text-anchor="end">${esc(b.label)}</text>`)
    out.push(`<rect x="${left}" y="${y + 4}" width="${n(x(b.medianMBps) - left)}" height="${rowH - 8}" fill="${b.blockcopy ? '#2b6cb0' : '#a0aec0'}"/>`)
    out.push(`<line x1="${n(x(b.minMBps))}" x2="${n(x(b.maxMBps))}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="#1a202c" stroke-width="1.5"/>`)
    out.push(`<text x="${n(x(b.maxMBps) + 6)}" y="${y + 17}" font-size="12">${n(b.medianMBps)} MB/s</text>`)
  })
  out.push(`<text x="${left}" y="${top + barsH + 18}" font-size="12">MB/s, median of the runs; the line spans min to max</text>`)

  // Throughput against chunk size.
  const cTop = top + barsH + 60
  const cH = 200
  const cLeft = 80
  const cW = W - cLeft - 60
  const cMax = Math.max(1, ...byChunk.map((p) => p.medianMBps))
  out.push(`<text x="20" y="${cTop - 14}" font-size="16" font-weight="bold">blockcopy copy --verify none: MB/s against chunk size</text>`)
  out.push(`<line x1="${cLeft}" y1="${cTop + cH}" x2="${cLeft + cW}" y2="${cTop + cH}" stroke="#1a202c"/>`)
  out.push(`<line x1="${cLeft}" y1="${cTop}" x2="${cLeft}" y2="${cTop + cH}" stroke="#1a202c"/>`)
  out.push(`<text x="${cLeft - 8}" y="${cTop + 12}" font-size="12" text-anchor="end">${n(cMax)}</text>`)
  out.push(`<text x="${cLeft - 8}" y="${cTop + cH}" font-size="12" text-anchor="end">0</text>`)
  const px = (i: number) => cLeft + (byChunk.length === 1 ? cW / 2 : (i / (byChunk.length - 1)) * cW)
  const py = (v: number) => cTop + cH - (v / cMax) * cH
  if (byChunk.length > 1) out.push(`<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="${byChunk.map((p, i) => `${n(px(i))},${n(py(p.medianMBps))}`).join(' ')}"/>`)
  byChunk.forEach((p, i) => {
    out.push(`<circle cx="${n(px(i))}" cy="${n(py(p.medianMBps))}" r="4" fill="#2b6cb0"/>`)
    out.push(`<text x="${n(px(i))}" y="${cTop + cH + 18}" font-size="12" text-anchor="middle">${p.chunkBytes / 1024} KiB</text>`)
    out.push(`<text x="${n(px(i))}" y="${n(py(p.medianMBps) - 8)}" font-size="12" text-anchor="middle">${n(p.medianMBps)}</text>`)
  })
  const H = cTop + cH + 40
  return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${out.join('\n')}\n</svg>\n`
}
