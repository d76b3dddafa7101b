import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { hasProgram } from './helpers/mounts.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('progress on stderr')
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-progress-')
})
test.after.each(() => {
  removeTempDir(dir)
})

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

test('on a terminal, stderr shows a progress bar that reaches 100%', () => {
  if (!hasProgram('script')) return logSkip('util-linux script is missing: no pseudo-terminal to test with')
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 32 * MiB, 1)
  // script(1) runs the command on a pseudo-terminal; stdout goes to /dev/null
  // so that what comes back is what the command wrote to the terminal's stderr.
  const cmd = `${quote(process.execPath)} --import tsx src/cli/bin.ts copy ${quote(src)} ${quote(dst)} --json > /dev/null`
  const run = spawnSync('script', ['-qefc', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  assert.is(run.status, 0, run.stdout + run.stderr)
  assert.match(run.stdout, /█/, 'a bar is drawn')
  assert.match(run.stdout, /100%/)
  assert.match(run.stdout, /32\.00 MiB of 32\.00 MiB/)
  assert.ok(cmpFiles(src, dst))
})

test('when stderr is not a terminal, a successful copy writes nothing to it', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 4 * MiB, 2)
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'copy', src, join(dir, 'dst.img')], { cwd: ROOT, encoding: 'utf8' })
  assert.is(run.status, 0, run.stderr)
  assert.is(run.stderr, '')
  assert.match(run.stdout, /^copied 4\.00 MiB of 4\.00 MiB/)
})

test('--progress ndjson writes one JSON line per chunk, whose extents tile the range', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 4 * MiB + 5, 3)
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'copy', src, join(dir, 'dst.img'), '--chunk', '1MiB', '--progress', 'ndjson'], {
    cwd: ROOT, encoding: 'utf8',
  })
  assert.is(run.status, 0, run.stderr)
  const events = run.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; extent: { offset: number; length: number }; totalBytes: number })
  assert.is(events.length, 5)
  assert.ok(events.every((e) => e.event === 'progress' && e.totalBytes === 4 * MiB + 5))
  const total = events.reduce((n, e) => n + e.extent.length, 0)
  assert.is(total, 4 * MiB + 5)
})

test.run()
