import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy replicate with a million ranges')
const MiB = 1024 * 1024
const RANGES = 1_000_000
const BLOCK = 512
/** Source blocks: each range takes one of them, in an order no two neighbours share. */
const SOURCE_BLOCKS = 2048
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-replicate-million-')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Range i copies source block sourceBlock(i) to destination block i (7919 is prime, so every block is used). */
const sourceBlock = (i: number) => (i * 7919) % SOURCE_BLOCKS

test('a --ranges file of a million lines is replicated, each 512-byte range to its place', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const list = join(dir, 'ranges.txt')
  writeRandomFile(src, SOURCE_BLOCKS * BLOCK, 5)
  const lines: string[] = ['# SRC_OFF DST_OFF LEN']
  for (let i = 0; i < RANGES; i++) lines.push(`${sourceBlock(i) * BLOCK} ${i * BLOCK} ${BLOCK}`)
  writeFileSync(list, `${lines.join('\n')}\n`)

  const run = runCli(['replicate', src, dst, '--ranges', list, '--type', 'copy', '--json', '--progress', 'none'], { timeoutMs: 300_000 })
  assert.is(run.status, 0, run.stderr)
  const r = JSON.parse(run.stdout) as { ok: boolean; totalBytes: number; errors: unknown[] }
  assert.is(r.ok, true)
  assert.is(r.totalBytes, RANGES * BLOCK)
  assert.equal(r.errors, [])

  // Every destination block, read back a MiB at a time, is its source block.
  const source = readFileSync(src)
  assert.is(statSync(dst).size, RANGES * BLOCK)
  const fd = openSync(dst, 'r')
  try {
    const buf = Buffer.alloc(MiB)
    for (let at = 0; at < RANGES * BLOCK; at += MiB) {
      const n = readSync(fd, buf, 0, MiB, at)
      for (let k = 0; k < n; k += BLOCK) {
        const i = (at + k) / BLOCK
        const from = sourceBlock(i) * BLOCK
        if (!buf.subarray(k, k + BLOCK).equals(source.subarray(from, from + BLOCK))) {
          assert.unreachable(`destination block ${i} is not source block ${sourceBlock(i)}`)
        }
      }
    }
  } finally {
    closeSync(fd)
  }
})

test.run()
