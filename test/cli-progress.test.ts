import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { hasProgram } from './helpers/mounts.js'
import { logSkip } from './helpers/root.js'
import { screenOf, stripAnsi } from './helpers/terminal.js'
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

test('Ctrl-C on a terminal: the bar stops on its line, then the notice, the summary and the resume hint each start a line of their own', async () => {
  if (!hasProgram('script')) return logSkip('util-linux script is missing: no pseudo-terminal to test with')
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const map = join(dir, 'copy.map')
  writeRandomFile(src, 64 * MiB, 4)
  // exec: the CLI itself leads the terminal's foreground process group, as it would under a shell.
  const cmd = `exec ${quote(process.execPath)} --import tsx src/cli/bin.ts copy ${quote(src)} ${quote(dst)} --rate 8MiB --chunk 1MiB --map ${quote(map)}`
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  let raw = ''
  child.stdout.setEncoding('utf8')
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)))
  // The bar has been drawn with some progress: the copy is running.
  await new Promise<void>((done, fail) => {
    child.stdout.on('data', (text: string) => {
      raw += text
      if (/█.*\b[1-9]\d*\.\d\d MiB of 64\.00 MiB/.test(raw)) done()
    })
    void exited.then(() => fail(new Error(`ended before drawing the bar:\n${stripAnsi(raw)}`)))
  })
  // ^C typed on the terminal: its line discipline sends SIGINT (and echoes ^C).
  child.stdin.write('\x03')
  assert.is(await exited, 130, stripAnsi(raw))
  const lines = screenOf(raw).filter((l) => l !== '')
  const notice = lines.findIndex((l) => l.includes('blockcopy: interrupted'))
  assert.ok(notice > 0, lines.join('\n'))
  assert.is(lines[notice], 'blockcopy: interrupted; finishing running chunks and syncing destinations (again to exit now)')
  // The line above is the bar's last state, and nothing but it.
  assert.match(lines[notice - 1] as string, /^ [█░]+ \d+% \| \d+\.\d\d MiB of 64\.00 MiB \| .* \| ETA \S+$/)
  // Then the summary (stdout) and the resume hint (stderr), each line whole.
  const after = [
    /^copied \d+\.\d\d MiB of 64\.00 MiB from .*src\.img to .*dst\.img in [\d.]+ s \([\d.]+ [KM]iB\/s\)$/,
    /^direct I\/O: /,
    /^map .*copy\.map: \d+\.\d\d MiB done, \d+\.\d\d MiB left, 0 B bad$/,
    /^cancelled: \d+\.\d\d MiB done; completed extents: 0\+\d+$/,
    /^blockcopy: map .*copy\.map saved; run the same command again to copy what is left: blockcopy copy /,
  ]
  assert.is(lines.length, notice + 1 + after.length, lines.join('\n'))
  after.forEach((re, k) => assert.match(lines[notice + 1 + k] as string, re))
  assert.is(lines.filter((l) => /[█░]/.test(l)).length, 1, 'one bar, never redrawn below the notice')
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
