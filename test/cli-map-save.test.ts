import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CopyResult } from '../src/index.js'
import { runCli, spawnCli } from './helpers/cli.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('copy --map: a map that cannot be saved is said, and costs only a rerun of some bytes')
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-map-save')
})
test.after.each(() => {
  spawnSync('chattr', ['-R', '-i', dir])
  removeTempDir(dir)
})

test('the map\'s directory turns read-only mid-run: the copy completes, exit 3, the map is said to be behind, and a rerun finishes', async () => {
  const why = skipUnlessRoot('sets the immutable attribute')
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 6 * MiB, 71)
  const maps = join(dir, 'maps')
  mkdirSync(maps)
  const map = join(maps, 'copy.map')
  const child = spawnCli(['copy', src, dst, '--map', map, '--map-interval', '100', '--rate', '3MiB', '--json', '--progress', 'none'])
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
  const done = new Promise<number | null>((resolve) => child.on('close', resolve))
  for (const end = Date.now() + 20_000; !existsSync(map); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error('the map never appeared')
  }
  if (spawnSync('chattr', ['+i', maps]).status !== 0) {
    await done
    return logSkip('no immutable attribute here')
  }
  const status = await done
  spawnSync('chattr', ['-i', maps])
  assert.is(status, 3, stderr)
  const r = JSON.parse(stdout) as CopyResult
  assert.is(r.ok, true, 'the data itself was copied')
  assert.ok(cmpFiles(src, dst))
  assert.is(r.map?.saveError?.code, 'EPERM', JSON.stringify(r.map))
  assert.not.ok(/^# Finished$/m.test(readFileSync(map, 'utf8')), 'the map on disk is behind')
  const again = runCli(['copy', src, dst, '--map', map, '--json'])
  assert.is(again.status, 0, again.stderr)
  assert.equal((JSON.parse(again.stdout) as CopyResult).map?.pendingBytes, 0)
  assert.match(readFileSync(map, 'utf8'), /^# Finished$/m)
  assert.ok(cmpFiles(src, dst))
})

test('--retry-bad with bytes still pending: the hint to copy them is the command without --retry-bad', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 4 * MiB, 72)
  writeRandomFile(dst, 4 * MiB, 73)
  const map = join(dir, 'copy.map')
  // An earlier run: the first MiB done, a bad block, the rest never tried.
  const hex = (v: number) => `0x${v.toString(16)}`
  writeFileSync(map, [
    '# blockcopy source-size 4194304', '# blockcopy dest-offsets 0', `${hex(MiB)}     ?               1`,
    `0x0  ${hex(MiB)}  +`, `${hex(MiB)}  0x1000  -`, `${hex(MiB + 4096)}  ${hex(3 * MiB - 4096)}  ?`, '',
  ].join('\n'))
  // Make the first MiB true to the map.
  assert.is(runCli(['copy', src, dst, '--length', '1MiB']).status, 0)
  const run = runCli(['copy', src, dst, '--map', map, '--retry-bad', '2', '--progress', 'none'])
  assert.is(run.status, 0, run.stderr)
  const hint = /run the same command again to copy what is left: (.*)$/m.exec(run.stderr)
  assert.ok(hint, run.stderr)
  assert.not.match(hint?.[1] ?? '', /--retry-bad/)
  const rest = runCli((hint?.[1] ?? '').split(' ').slice(1))
  assert.is(rest.status, 0, rest.stderr)
  assert.ok(cmpFiles(src, dst))
})

test.run()
