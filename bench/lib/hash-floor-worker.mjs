// The worker of bench/lib/hash-floor.mjs: the digests of the chunks of
// [offset, end), read through the page cache into the hasher's input area.
import { closeSync, openSync, readSync } from 'node:fs'
import { Xxh3Simd } from '../../dist/src/hash/xxh3-simd.js'

const PIECE_BYTES = 256 * 1024
const hasher = Xxh3Simd.createSync('xxh3')

export default function hashRange({ file, offset, end, chunkBytes }) {
  const fd = openSync(file, 'r')
  try {
    const view = hasher.input(PIECE_BYTES)
    const piece = Buffer.from(view.buffer, view.byteOffset, PIECE_BYTES)
    const digests = []
    for (let chunk = offset; chunk < end; chunk += chunkBytes) {
      hasher.init()
      const chunkEnd = Math.min(end, chunk + chunkBytes)
      for (let at = chunk; at < chunkEnd; at += PIECE_BYTES) {
        const length = Math.min(PIECE_BYTES, chunkEnd - at)
        if (readSync(fd, piece, 0, length, at) !== length) throw new Error(`${file}: short read at ${at}`)
        hasher.updateInput(0, length)
      }
      digests.push(Buffer.from(hasher.digest('hex'), 'hex'))
    }
    return Buffer.concat(digests)
  } finally {
    closeSync(fd)
  }
}
