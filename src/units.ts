import { BlockcopyError } from './errors.js'
import { quoted } from './quote.js'

/** Bytes per unit suffix. Single letters are binary, as in dd and qemu-img. */
const UNITS: Record<string, number> = {
  '': 1, b: 1, s: 512,
  k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4,
  kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3, tb: 1000 ** 4,
}

/**
 * Parses a size such as `512`, `8s` (512-byte sectors), `4KiB`, `1MiB`, `2GiB`
 * or `1G` into bytes. Throws INVALID_ARGUMENT naming `argument` when the text
 * is not a whole, non-negative number of bytes that fits in 2^53.
 */
export function parseSize(text: string, argument: string): number {
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined
  if (!m || unit === undefined) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `${argument}: ${quoted(text)} is not a size; use a whole number of bytes with an optional unit (512, 8s, 4KiB, 1MiB, 2GiB)`,
      argument,
    )
  }
  const bytes = Number(m[1]) * unit
  if (!Number.isSafeInteger(bytes)) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${quoted(text)} is larger than 2^53 bytes`, argument)
  }
  return bytes
}

/** Formats bytes with a binary unit for people: 1.50 MiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${units[i]}`
}
