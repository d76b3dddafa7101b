import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { clientSettings, DEFAULT_MEMORY_BYTES, defaultThreads, fitBudget, workerBufferBytes } from '../src/options.js'
import { CLI_BUDGET_NAMES } from '../src/cli/common.js'
import { refuses } from './helpers/refuses.js'

const test = suite('the memory budget holds whatever the other settings')
const MiB = 1024 * 1024
const PAGE = 4096

/** What the workers' buffers of some settings take together. */
const buffers = (s: { threads: number; chunkBytes: number }) => s.threads * workerBufferBytes(s.chunkBytes)

test('the defaults fit the default 64 MiB budget with the default thread count', () => {
  const s = clientSettings({})
  assert.is(s.memoryBytes, DEFAULT_MEMORY_BYTES)
  assert.is(s.threads, defaultThreads())
  assert.ok(buffers(s) <= s.memoryBytes)
  assert.ok(2 * s.bufferBytes * s.threads <= s.memoryBytes, 'the buffers the workers allocate fit too')
})

test('a chunk size alone lowers the default thread count to what 64 MiB holds, at least one, and never raises the budget', () => {
  for (const [chunk, threads] of [[16 * MiB, 1], [8 * MiB, 3], [4 * MiB, Math.min(defaultThreads(), 7)], [MiB, defaultThreads()]] as const) {
    const s = clientSettings({ chunkBytes: chunk })
    assert.is(s.memoryBytes, 64 * MiB, `--chunk ${chunk / MiB} MiB keeps the budget`)
    assert.is(s.threads, threads, `--chunk ${chunk / MiB} MiB runs ${threads} threads`)
    assert.ok(2 * s.bufferBytes * s.threads <= s.memoryBytes)
    assert.ok(s.bufferBytes >= chunk + PAGE, 'and each buffer holds a chunk and its page')
  }
})

test('an explicit budget fits the default thread count the same way, down to one thread', () => {
  assert.is(clientSettings({ memoryBytes: 3 * workerBufferBytes(MiB) }).threads, Math.min(3, defaultThreads()))
  assert.is(clientSettings({ memoryBytes: workerBufferBytes(MiB) }).threads, 1)
})

test('threads given that the default budget cannot hold are refused, saying the budget they need', () => {
  // 64 × 2 × (16 MiB + 4 KiB) = 2048.5 MiB: this ran at 650 MB of RSS with the budget silently raised.
  refuses(() => clientSettings({ threads: 64, chunkBytes: 16 * MiB }), 'INVALID_ARGUMENT',
    /^threads: 64 with chunkBytes 16777216 needs memoryBytes 2148007936 bytes \(2 buffers of the chunk \+ 4KiB per thread\); the default budget is 67108864$/)
  // The default chunk size too: 32 threads need 64 MiB and 32 pages.
  refuses(() => clientSettings({ threads: 32 }), 'INVALID_ARGUMENT', /^threads: 32 with chunkBytes 1048576 \(the default\) needs memoryBytes 67371008 bytes/)
  assert.is(clientSettings({ threads: 31 }).threads, 31)
})

test('threads and a budget both given that do not fit are refused naming the budget given', () => {
  refuses(() => clientSettings({ threads: 4, chunkBytes: 4 * MiB, memoryBytes: 16 * MiB }), 'INVALID_ARGUMENT',
    /^threads: 4 with chunkBytes 4194304 needs memoryBytes 33587200 bytes .*; memoryBytes is 16777216$/)
  const s = clientSettings({ threads: 64, chunkBytes: 16 * MiB, memoryBytes: 2148007936 })
  assert.is(s.threads, 64)
  assert.is(s.memoryBytes, 2148007936)
})

test('a budget that cannot hold one thread of the chunk size is refused, saying the least that holds one', () => {
  refuses(() => clientSettings({ chunkBytes: 16 * MiB, memoryBytes: 16 * MiB }), 'INVALID_ARGUMENT',
    /^memoryBytes: 16777216 cannot hold one thread's 2 buffers of chunkBytes 16777216 \+ 4KiB; give memoryBytes 33562624 bytes or more, or a smaller chunkBytes$/)
  assert.is(clientSettings({ chunkBytes: 16 * MiB, memoryBytes: 33562624 }).threads, 1)
})

test('with the command line\'s names, refusals name the flags and sizes as typed, and the least budget to the KiB', () => {
  refuses(() => fitBudget({ threads: 64, chunkBytes: 16 * MiB }, CLI_BUDGET_NAMES), 'INVALID_ARGUMENT',
    /^--threads: 64 with --chunk 16MiB needs --memory 2097664KiB \(2 buffers of the chunk \+ 4KiB per thread\); the default budget is 64MiB$/)
  // A chunk size the user did not type is named by where it came from, never as a --chunk.
  refuses(() => fitBudget({ threads: 8, chunkBytes: 16 * MiB, chunkOrigin: 'manifest' }, CLI_BUDGET_NAMES), 'INVALID_ARGUMENT',
    /^--threads: 8 with the manifest's 16MiB chunks needs --memory 262208KiB/)
  refuses(() => fitBudget({ chunkBytes: 256 * 1024, memoryBytes: 100 * 1024 }, CLI_BUDGET_NAMES), 'INVALID_ARGUMENT',
    /^--memory: 100KiB cannot hold one thread's 2 buffers of --chunk 256KiB \+ 4KiB; give --memory 520KiB or more, or a smaller --chunk$/)
  // The least that holds one thread, not a whole MiB above it: 2 × (64 KiB + 4 KiB).
  refuses(() => fitBudget({ chunkBytes: 64 * 1024, memoryBytes: 132 * 1024 }, CLI_BUDGET_NAMES), 'INVALID_ARGUMENT',
    /^--memory: 132KiB cannot hold one thread's 2 buffers of --chunk 64KiB \+ 4KiB; give --memory 136KiB or more, or a smaller --chunk$/)
  assert.is(fitBudget({ chunkBytes: 64 * 1024, memoryBytes: 136 * 1024 }, CLI_BUDGET_NAMES).threads, 1)
  // A manifest's chunks cannot be made smaller: only the budget is asked for.
  refuses(() => fitBudget({ chunkBytes: 16 * MiB, memoryBytes: 32 * MiB, chunkOrigin: 'manifest' }, CLI_BUDGET_NAMES), 'INVALID_ARGUMENT',
    /^--memory: 32MiB cannot hold one thread's 2 buffers of the manifest's 16MiB chunks \+ 4KiB; give --memory 32776KiB or more$/)
  refuses(() => fitBudget({ chunkBytes: MiB, memoryBytes: MiB, chunkOrigin: 'default' }, CLI_BUDGET_NAMES), 'INVALID_ARGUMENT',
    /^--memory: 1MiB cannot hold one thread's 2 buffers of the default 1MiB chunks \+ 4KiB; give --memory 2056KiB or more, or a smaller --chunk$/)
})

test.run()
