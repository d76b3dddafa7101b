/**
 * The source file: incompressible pseudo-random bytes, written once and made
 * durable, so no contender gains from compression, dedup or sparse files.
 */
import { createCipheriv, randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'

const BLOCK_BYTES = 4 * 1024 * 1024

/**
 * Writes `sizeBytes` of AES-128-CTR keystream (random key and IV) to `path`
 * and fdatasyncs it. AES-CTR with AES-NI runs at several GB/s, far faster than
 * the disk, and no two blocks repeat. `shouldStop` is polled between blocks so
 * an interrupt does not wait for the whole file.
 */
export async function writeRandomFile(path: string, sizeBytes: number, shouldStop: () => boolean): Promise<void> {
  const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16))
  const zeros = Buffer.alloc(BLOCK_BYTES)
  const file = await open(path, 'wx', 0o644)
  try {
    for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += BLOCK_BYTES) {
      if (shouldStop()) return
      const lengthBytes = Math.min(BLOCK_BYTES, sizeBytes - offsetBytes)
      const block = cipher.update(zeros.subarray(0, lengthBytes))
      let written = 0
      while (written < lengthBytes) {
        const { bytesWritten } = await file.write(block, written, lengthBytes - written, offsetBytes + written)
        written += bytesWritten
      }
    }
    await file.datasync()
  } finally {
    await file.close()
  }
}
