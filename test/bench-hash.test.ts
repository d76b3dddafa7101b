import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient } from '../src/index.js'
import { hasProgram } from './helpers/mounts.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('bench:hash: the floor of the stack computes the manifest blockcopy does')
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const FLOOR = join(ROOT, 'bench', 'lib', 'hash-floor.mjs')
let dir: string

test.before.each(() => {
  dir = makeTempDir('bench-hash')
})
test.after.each(() => {
  removeTempDir(dir)
})

function floorRoot(file: string, args: string[] = []): string {
  const run = spawnSync(process.execPath, [FLOOR, file, ...args], { encoding: 'utf8', timeout: 60_000 })
  assert.is(run.status, 0, run.stderr)
  const out = JSON.parse(run.stdout) as { ok: boolean; files: Array<{ path: string; root: string }> }
  assert.is(out.ok, true)
  assert.is(out.files[0]?.path, file)
  return out.files[0]?.root ?? ''
}

test('the same root as client.hash: empty, shorter than a chunk, past a 64 MiB task with a partial chunk, and a smaller chunk', async () => {
  const files = { empty: join(dir, 'empty'), small: join(dir, 'small'), odd: join(dir, 'odd') }
  writeFileSync(files.empty, '')
  writeRandomFile(files.small, 5000)
  writeRandomFile(files.odd, 64 * 1024 * 1024 + 3 * 1024 * 1024 + 12345)
  const client = await createClient({ threads: 2 })
  try {
    for (const [file, chunkBytes, args] of [
      [files.empty, 1024 * 1024, []], [files.small, 1024 * 1024, []], [files.odd, 1024 * 1024, ['--threads', '3']], [files.odd, 64 * 1024, ['--chunk', '64KiB']],
    ] as Array<[string, number, string[]]>) {
      const m = await client.hash(file, { chunkBytes }).manifest
      assert.ok(m, file)
      assert.is(floorRoot(file, args), m.root, `${file} ${args.join(' ')}`)
    }
  } finally {
    await client.destroy()
  }
})

test('bench/hash.ts runs the floor beside xxhsum and blockcopy hash, checks its root against theirs, and shows its ratios as INFO, not targets', () => {
  if (!hasProgram('xxhsum')) return logSkip('xxhsum is not installed (apt-get install xxhash)')
  const out = join(dir, 'hash.json')
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/hash.ts', '--size', '16MiB', '--runs', '1', '--only', 'xxhsum,hash,floor', '--dir', dir, '--out', out], {
    cwd: ROOT, encoding: 'utf8', timeout: 120_000,
  })
  assert.is(run.status, 0, run.stderr)
  assert.match(run.stdout, /^ {2}INFO {2}floor \(commander \+ Piscina \+ xxh3 WebAssembly, no engine\) against xxhsum -H3, cached: \d+\.\d\dx$/m)
  assert.match(run.stdout, /^ {2}INFO {2}blockcopy hash against that floor, cached: \d+\.\d\dx$/m)
  assert.match(run.stdout, /^ {2}(PASS|FAIL) {2}blockcopy hash >= 1\.0x xxhsum -H3, cached: \d+\.\d\dx$/m)
  const doc = JSON.parse(readFileSync(out, 'utf8')) as { contenders: Array<{ name: string; runs: unknown[] }>; targets: Array<{ contender: string; peer: string; status: string }> }
  assert.equal(doc.contenders.map((c) => c.name), ['xxhsum', 'hash', 'floor'])
  for (const c of doc.contenders) assert.is(c.runs.length, 1, c.name)
  assert.equal(doc.targets.filter((t) => t.status === 'INFO').map((t) => `${t.contender}/${t.peer}`), ['floor/xxhsum', 'hash/floor'])
})

test.run()
