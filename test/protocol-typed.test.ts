import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { serialize } from 'node:v8'
import { Piscina } from 'piscina'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

import { systemCode } from '../src/error-kinds.js'
import { SystemError } from '../src/errors.js'
import { answers, type ChunkEnd, type HashTask, type ProbeTask, type Task, type TaskResults, type WorkerConfig } from '../src/protocol/protocol.js'
import { buildManifest, chunkDigestBytes } from '../src/hash/manifest.js'
import { hexOf, Xxh3 } from '../src/hash/xxh3.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const KiB = 1024
const test = suite('the worker protocol is typed end to end: digests as bytes, a result per task kind, failure codes from one union')

let dir = ''
let pool: Piscina<Task, TaskResults[Task['kind']]> | null = null

test.before.each(() => {
  dir = makeTempDir('protocol-')
})

test.after.each(async () => {
  await pool?.destroy()
  pool = null
  removeTempDir(dir)
})

/** One worker running the real worker entry, as a client starts it. */
function onePool(): Piscina<Task, TaskResults[Task['kind']]> {
  const workerData: WorkerConfig = { bufferBytes: 256 * KiB, pageBytes: 4096, io: 'native' }
  pool = new Piscina({ filename: new URL('../workers/chunk.worker.ts', import.meta.url).href, minThreads: 1, maxThreads: 1, workerData })
  return pool
}

/** A source as a task names it: buffered only, opened by this thread. */
function sourceEnd(path: string, fd: number): ChunkEnd {
  return { path, fd, directFd: -1, alignBytes: 0, uncachedEdges: false, offsetBytes: 0 }
}

test("a hash task answers with each chunk's digest as bytes, end to end, in a buffer of its own", async () => {
  const path = join(dir, 'src.img')
  const size = 100 * KiB + 7
  writeRandomFile(path, size, 3)
  const fd = openSync(path, 'r')
  try {
    const task: HashTask = { kind: 'hash', chunkIndex: 0, lengthBytes: size, src: sourceEnd(path, fd), algo: 'xxh3', chunkBytes: 32 * KiB, probeCache: false }
    const r = await onePool().run(task)
    assert.ok(answers(task, r), `a ${task.kind} task answered by a ${r.kind} result`)
    assert.is(r.readErr, false, JSON.stringify(r.errors))
    assert.instance(r.digest, Uint8Array)
    const digest = r.digest as Uint8Array
    // Four chunks (three of 32 KiB, the rest), 8 bytes each, nothing else in the buffer.
    assert.is(digest.byteLength, 4 * 8)
    assert.is(digest.buffer.byteLength, 4 * 8)
    const bytes = readFileSync(path)
    const h = await Xxh3.create()
    const expected = [0, 1, 2, 3].map((k) => hexOf(h.digest(bytes, k * 32 * KiB, Math.min(32 * KiB, size - k * 32 * KiB)))).join('')
    assert.is(hexOf(digest), expected)
  } finally {
    closeSync(fd)
  }
})

test('a probe is answered by a probe result, and answers() tells a result of another kind apart', async () => {
  const rendezvous = new SharedArrayBuffer(4)
  const probe: ProbeTask = { kind: 'probe', rendezvous, parties: 1 }
  const r = await onePool().run(probe)
  if (!answers(probe, r)) return assert.unreachable(`a probe answered by a ${r.kind} result`)
  assert.is(r.backend, 'native')
  const hash: Task = { kind: 'hash', chunkIndex: 0, lengthBytes: 0, src: sourceEnd('x', -1), algo: 'xxh3', chunkBytes: 4096, probeCache: false }
  assert.not.ok(answers(hash, r), 'a probe result does not answer a hash task')
})

test("a manifest chunk's digest sent to a worker carries 8 bytes, not the whole manifest", async () => {
  // 20,000 chunks: 160,000 bytes of digests behind the manifest's buffer.
  const hex = Array.from({ length: 20_000 }, (_, i) => i.toString(16).padStart(16, '0'))
  const m = await buildManifest('xxh3', 4096, 20_000 * 4096, hex)
  const d = chunkDigestBytes(m, 12_345)
  assert.is(hexOf(d), (12_345).toString(16).padStart(16, '0'))
  assert.is(d.buffer.byteLength, 8)
  assert.ok(serialize({ digest: d }).length < 64, `a digest serialises to ${serialize({ digest: d }).length} bytes`)
})

test("a failed range's code is the system error's errno name; one not starting with E is named by its errno", () => {
  assert.is(systemCode(new SystemError('EIO: i/o error', 'EIO', 5, 'pread')), 'EIO')
  assert.is(systemCode(new SystemError('out of range', 'ERR_OUT_OF_RANGE', 22, 'pread')), 'ERR_OUT_OF_RANGE')
  assert.is(systemCode(new SystemError('odd', 'UNKNOWN', 71, 'pread')), 'E71')
})

test.run()
