import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parseMap } from '../src/journal/mapfile.js'
import { killLoop, mapDoneBytes } from './helpers/kill-loop.js'
import { cliArgs, ROOT, runCli, spawnCli } from './helpers/cli.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('copy --map: killed and interrupted copies resume and lose nothing')
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-map-crash')
})
test.after.each(() => {
  removeTempDir(dir)
})

const SIZE = 512 * MiB
const RATE = 32 * MiB
const INTERVAL_MS = 250
// 4 threads (2 cores × 2) with two chunks queued each, 1 MiB chunks.
const INFLIGHT = 8 * MiB

test('20 SIGKILLs at random moments, then a final run: byte-exact, and each kill re-copies at most what was in flight plus one save interval', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const map = join(dir, 'copy.map')
  writeRandomFile(src, SIZE, 61)
  const args = cliArgs(['copy', src, dst, '--map', map, '--map-interval', String(INTERVAL_MS), '--rate', `${RATE}`, '--threads', '4', '--progress', 'none'])
  const kills = await killLoop({ args, map, kills: 20, maxDelayMs: 1500, cwd: ROOT })
  const lines = kills.map((k, i) => `kill ${i + 1}: wrote ${(k.writtenBytes / MiB).toFixed(1)} MiB, map +${(k.gainedBytes / MiB).toFixed(1)} MiB, to copy again ${(k.recopiedBytes / MiB).toFixed(1)} MiB`)
  const recopied = kills.reduce((n, k) => n + k.recopiedBytes, 0)
  const worst = Math.max(...kills.map((k) => k.recopiedBytes))
  const bound = INFLIGHT + RATE * (INTERVAL_MS / 1000)
  console.log(`${lines.join('\n')}\nre-copied ${(recopied / MiB).toFixed(1)} MiB over 20 kills; worst ${(worst / MiB).toFixed(1)} MiB; bound ${(bound / MiB).toFixed(1)} MiB a kill`)
  assert.ok(worst <= bound * 1.25, `worst kill re-copies ${worst} bytes; in flight + one interval is ${bound}`)

  const last = runCli(['copy', src, dst, '--map', map, '--json'])
  assert.is(last.status, 0, last.stderr)
  assert.ok(cmpFiles(src, dst), 'byte-exact after 20 kills')
  const m = parseMap(readFileSync(map, 'utf8'), map)
  assert.equal(m.blocks, [{ pos: 0, size: SIZE, status: '+' }])
})

test('SIGINT: running chunks finish, the map is saved, exit 130 with the command that resumes; running it finishes the copy', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const map = join(dir, 'copy.map')
  writeRandomFile(src, 64 * MiB, 62)
  const args = ['copy', src, dst, '--map', map, '--rate', '16MiB', '--progress', 'none']
  // Progress as NDJSON on stderr: interrupted once a chunk is reported done, an event, not a time.
  const child = spawnCli(args.map((a) => (a === 'none' ? 'ndjson' : a)))
  let stderr = ''
  const code = new Promise<number | null>((done) => child.on('exit', (c) => done(c)))
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString()
      if (/"doneBytes":[1-9]/.test(stderr)) resolve()
    })
    void code.then((c) => reject(new Error(`exited ${String(c)} before any chunk was done: ${stderr}`)))
  })
  assert.ok(existsSync(map), 'the map is saved before the first chunk')
  child.kill('SIGINT')
  assert.is(await code, 130, stderr)
  const done = mapDoneBytes(map)
  assert.ok(done > 0 && done < 64 * MiB, `${done} bytes done at the interrupt, all saved`)
  const resume = /run the same command again to copy what is left: (blockcopy copy .*)$/m.exec(stderr)
  assert.ok(resume, stderr)
  assert.ok(resume?.[1]?.includes(`--map ${map}`))
  const again = runCli(args.filter((a) => a !== '--rate' && a !== '16MiB').concat('--json'))
  assert.is(again.status, 0, again.stderr)
  const r = JSON.parse(again.stdout) as { completedBytes: number; map: { resumedBytes: number } }
  assert.is(r.map.resumedBytes, done)
  assert.is(r.completedBytes, 64 * MiB - done)
  assert.ok(cmpFiles(src, dst))
})

test.run()
