import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
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

test.run()
