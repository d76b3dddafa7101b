/**
 * What a terminal shows after receiving `raw` (the output of a program on a
 * pseudo-terminal, as script(1) records it), as lines of text with trailing
 * blanks removed. Enough of a VT100 for progress bars: printable characters
 * overwrite the cell under the cursor; CR, LF and backspace; ESC 7 / ESC 8
 * (save and restore the cursor); CSI G, H, A, B, C, D (cursor moves), K and
 * J (erase); every other sequence (colours, modes) changes nothing visible
 * here. The screen never scrolls and has no right margin, so nothing written
 * over is hidden by scrolling.
 */
export function screenOf(raw: string): string[] {
  const rows: string[][] = [[]]
  let row = 0
  let col = 0
  let saved = { row: 0, col: 0 }
  const line = (r: number): string[] => {
    while (rows.length <= r) rows.push([])
    return rows[r] as string[]
  }
  const chars = [...raw]
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string
    if (c === '\r') col = 0
    else if (c === '\n') row++
    else if (c === '\b') col = Math.max(0, col - 1)
    else if (c === '\x1b') {
      const next = chars[i + 1]
      if (next === '7') {
        saved = { row, col }
        i++
      } else if (next === '8') {
        ;({ row, col } = saved)
        i++
      } else if (next === '[') {
        let j = i + 2
        let params = ''
        while (j < chars.length && !/[@-~]/.test(chars[j] as string)) params += chars[j++]
        const final = chars[j]
        const n = (k: number, dflt: number) => {
          const v = params.replace(/^\?/, '').split(';')[k]
          return v === undefined || v === '' ? dflt : Number(v)
        }
        const cells = line(row)
        if (final === 'G') col = n(0, 1) - 1
        else if (final === 'H') {
          row = n(0, 1) - 1
          col = n(1, 1) - 1
        } else if (final === 'A') row = Math.max(0, row - n(0, 1))
        else if (final === 'B') row += n(0, 1)
        else if (final === 'C') col += n(0, 1)
        else if (final === 'D') col = Math.max(0, col - n(0, 1))
        else if (final === 'K') {
          const mode = n(0, 0)
          if (mode === 0) cells.length = Math.min(cells.length, col)
          else if (mode === 1) for (let k = 0; k <= col && k < cells.length; k++) cells[k] = ' '
          else cells.length = 0
        } else if (final === 'J' && n(0, 0) === 0) {
          cells.length = Math.min(cells.length, col)
          rows.length = Math.min(rows.length, row + 1)
        }
        i = j
      } else {
        i++
      }
    } else if (c >= ' ') {
      const cells = line(row)
      while (cells.length < col) cells.push(' ')
      cells[col++] = c
    }
  }
  return rows.map((r) => r.join('').trimEnd())
}

/** Removes ANSI escape sequences (for reading raw output in messages). */
// eslint-disable-next-line no-control-regex -- ESC is exactly what is matched
export const stripAnsi = (text: string): string => text.replace(/\x1b(\[[0-9;?]*[@-~]|[78])/g, '')
