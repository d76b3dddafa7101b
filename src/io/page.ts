import fs from 'node:fs'

/** AT_PAGESZ in the ELF auxiliary vector. */
const AT_PAGESZ = 6

/**
 * The kernel's page size, from the process's auxiliary vector
 * (/proc/self/auxv, pairs of native words), without the native addon.
 * 4096 when it cannot be read. It matters for correctness, not speed: no page
 * may be touched by both O_DIRECT and buffered I/O (src/io/align.ts), and
 * pages are 16 or 64 KiB on some arm64 and ppc64le kernels.
 */
export function systemPageBytes(): number {
  let auxv: Buffer
  try {
    auxv = fs.readFileSync('/proc/self/auxv')
  } catch {
    return 4096
  }
  const word = process.arch === 'arm' || process.arch === 'ia32' ? 4 : 8
  const read = (at: number) => (word === 8 ? Number(auxv.readBigUInt64LE(at)) : auxv.readUInt32LE(at))
  for (let at = 0; at + 2 * word <= auxv.length; at += 2 * word) {
    const type = read(at)
    if (type === 0) break
    if (type === AT_PAGESZ) return read(at + word)
  }
  return 4096
}
