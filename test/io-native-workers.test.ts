import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { SystemError } from '../src/errors.js'
import { loadAddon } from '../src/io/native.js'
import { nativeBackend, withTempDir } from './helpers/native.js'

const THREADS = 4
const addonWorker = fileURLToPath(new URL('./fixtures/addon-worker.mjs', import.meta.url))
const tsWorker = fileURLToPath(new URL('./fixtures/ts-worker.mjs', import.meta.url))
const backendWorker = fileURLToPath(new URL('./fixtures/backend-worker.ts', import.meta.url))

/** Runs a worker to completion; resolves with its one message, rejects on error or a bad exit. */
function runWorker<T>(file: string, workerData: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(file, { workerData })
    let message: { value: T } | undefined
    worker.once('message', (value: T) => (message = { value }))
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`))
      else if (message === undefined) reject(new Error('worker exited without a message'))
      else resolve(message.value)
    })
  })
}

interface AddonWorkerResult {
  bytesRead: number
  bytes: Uint8Array
  error: { isWorkerError: boolean; thread: number; code: string; syscall: string } | null
}

test('the addon loads in four worker threads at once, each with its own error class, and each reads its block', async () => {
  const load = loadAddon()
  if (!load.ok) throw new Error(load.reason)
  await withTempDir('io-native-workers', async (dir) => {
    const file = join(dir, 'data')
    const data = randomBytes(THREADS * 4096)
    writeFileSync(file, data)
    // Two rounds: environments torn down by the first must not disturb the second.
    for (let round = 0; round < 2; round++) {
      const barrier = new SharedArrayBuffer(4)
      const results = await Promise.all(
        Array.from({ length: THREADS }, (_, index) =>
          runWorker<AddonWorkerResult>(addonWorker, {
            addonPath: load.path, file, missing: join(dir, 'missing'), barrier, count: THREADS, index,
          }),
        ),
      )
      results.forEach((r, index) => {
        assert.is(r.bytesRead, 4096)
        assert.ok(Buffer.from(r.bytes).equals(data.subarray(index * 4096, (index + 1) * 4096)), `thread ${index} bytes`)
        assert.equal(r.error, { isWorkerError: true, thread: index, code: 'ENOENT', syscall: 'open' })
      })
    }
  })
})

test('after workers have come and gone the main thread still throws its own SystemError', async () => {
  await withTempDir('io-native-workers', async (dir) => {
    let err: unknown
    try {
      nativeBackend().open(join(dir, 'missing'), { write: false, create: false, direct: false })
    } catch (caught) {
      err = caught
    }
    assert.instance(err, SystemError)
    assert.is((err as SystemError).code, 'ENOENT')
  })
})

test('loadBackend in a worker thread gives the native backend with SystemError errors', async () => {
  await withTempDir('io-native-workers', async (dir) => {
    const file = join(dir, 'data')
    const data = randomBytes(8192)
    writeFileSync(file, data)
    const results = await Promise.all(
      Array.from({ length: THREADS }, () =>
        runWorker<{ kind: string; bytesRead: number; bytes: Uint8Array; error: unknown }>(tsWorker, {
          tsEntry: backendWorker, file, missing: join(dir, 'missing'),
        }),
      ),
    )
    for (const r of results) {
      assert.is(r.kind, 'native')
      assert.is(r.bytesRead, 4096)
      assert.ok(Buffer.from(r.bytes).equals(data.subarray(0, 4096)))
      assert.equal(r.error, { isSystemError: true, code: 'ENOENT' })
    }
  })
})

test.run()
