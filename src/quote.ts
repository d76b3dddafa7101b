/** Characters an error shows of a file's content at most, escapes included: enough to recognise a line, never a screenful. */
export const QUOTED_CHARS = 40

const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' }

/** One character as JSON writes it, printable ASCII only: `\u0000`, `\"`, an astral one as a surrogate pair. */
function escapeChar(c: string): string {
  if (c === '"' || c === '\\') return `\\${c}`
  const code = c.codePointAt(0) ?? 0
  if (code >= 0x20 && code <= 0x7e) return c
  const short = SHORT_ESCAPES[c]
  if (short) return short
  return Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')
}

/**
 * What an error shows of a file's content (a map's line, a ranges file's
 * field, a manifest's first bytes): in double quotes, JSON-style escaped,
 * printable ASCII only, so a data file given by mistake prints neither raw
 * binary nor terminal control sequences; and cut, so that what stands
 * between the quotes is at most QUOTED_CHARS characters, followed by an
 * ellipsis and, for a string (a whole line or field), how many characters
 * were left out. A Buffer is the start of a file, shown byte for byte
 * (latin1, every byte visible, as \u00XX if not printable), and cut with a
 * bare ellipsis.
 */
export function quoted(content: string | Uint8Array, maxChars: number = QUOTED_CHARS): string {
  const text = typeof content === 'string' ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('latin1')
  let shown = ''
  let taken = 0
  // By code point, so a cut never splits a surrogate pair.
  for (const c of text) {
    const e = escapeChar(c)
    if (shown.length + e.length > maxChars) break
    shown += e
    taken += c.length
  }
  if (taken === text.length) return `"${shown}"`
  // A Buffer is the start of a file, read in part: how much more there is, is not known here.
  if (typeof content !== 'string') return `"${shown}"...`
  const more = codePoints(text, taken)
  return `"${shown}"... (${more} more character${more === 1 ? '' : 's'})`
}

/** Code points in `text` from `from` on, counted without copying it (a line of a data file may be hundreds of MiB). */
function codePoints(text: string, from: number): number {
  let n = 0
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    n++
  }
  return n
}
