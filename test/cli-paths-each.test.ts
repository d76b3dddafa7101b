import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, wholeFileDigest, xxhsumLine } from '../src/index.js'
import { capabilitiesOf } from '../src/caps/caps.js'
import { loadBackend } from '../src/io/index.js'
import { EXIT, worstExit } from '../src/cli/exit.js'
import { runCli } from './helpers/cli.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('commands given several paths report each one and exit with the worst outcome')
const MiB = 1024 * 1024
let dir: string
let good: [string, string]
let missing: string
let sub: string

test.before.each(() => {
  dir = makeTempDir('cli-paths-each-')
  good = [join(dir, 'a.bin'), join(dir, 'c.bin')]
  writeRandomFile(good[0], 3 * MiB + 5, 1)
  writeFileSync(good[1], 'c')
  missing = join(dir, 'nodir', 'missing.bin')
  sub = join(dir, 'sub')
  mkdirSync(sub)
})
test.after.each(() => {
  removeTempDir(dir)
})

interface Entry {
  path: string
  ok?: boolean
  digest?: string
  root?: string
  error?: { code: string; message: string }
}

test('the order of outcomes: nothing < differences < bad input < interrupted < I/O errors', () => {
  assert.is(worstExit([]), EXIT.ok)
  assert.is(worstExit([EXIT.ok, EXIT.differences]), EXIT.differences)
  assert.is(worstExit([EXIT.badInput, EXIT.differences, EXIT.ok]), EXIT.badInput)
  assert.is(worstExit([EXIT.badInput, EXIT.interrupted]), EXIT.interrupted)
  assert.is(worstExit([EXIT.ioErrors, EXIT.interrupted, EXIT.badInput]), EXIT.ioErrors)
  assert.is(worstExit([EXIT.interrupted, EXIT.ioErrors]), EXIT.ioErrors)
})

test('caps P1 BAD P3: both good paths are probed and printed, the bad ones named on stderr, exit 2', () => {
  const run = runCli(['caps', good[0], missing, good[1], sub])
  assert.is(run.status, 2, run.stderr)
  const blocks = run.stdout.trimEnd().split('\n\n')
  assert.is(blocks.length, 2, run.stdout)
  assert.match(blocks[0] ?? '', new RegExp(`^${good[0]}  \\(file\\)\\n  size +3\\.00 MiB`))
  assert.match(blocks[1] ?? '', new RegExp(`^${good[1]}  \\(file\\)\\n  size +1 B`))
  assert.equal(run.stderr.trimEnd().split('\n'), [
    `blockcopy: NOT_FOUND_VOLUME: PATH 2: directory ${join(dir, 'nodir')} does not exist, so ${missing} cannot be created`,
    `blockcopy: INVALID_ARGUMENT: PATH 4: ${sub} is neither a regular file nor a block device`,
  ])
})

test('caps --json: one entry per path in order, the bad ones with error { code, message }', () => {
  const run = runCli(['caps', good[0], missing, good[1], sub, '--json'])
  assert.is(run.status, 2, run.stderr)
  const entries = JSON.parse(run.stdout) as Entry[]
  assert.equal(entries.map((e) => e.path), [good[0], missing, good[1], sub])
  assert.equal([entries[0], entries[2]], capabilitiesOf(loadBackend(), good))
  assert.is(entries[1]?.error?.code, 'NOT_FOUND_VOLUME')
  assert.match(entries[1]?.error?.message ?? '', /^PATH 2: directory .*nodir does not exist/)
  assert.is(entries[3]?.error?.code, 'INVALID_ARGUMENT')
  assert.match(entries[3]?.error?.message ?? '', /^PATH 4: .*sub is neither a regular file nor a block device/)
})

test('hash --xxhsum A MISSING C, as xxhsum: the lines of A and C exactly, the missing one named, exit 2', async () => {
  for (const algo of ['xxh3', 'xxh128'] as const) {
    const run = runCli(['hash', '--xxhsum', '--algo', algo, good[0], missing, good[1]])
    assert.is(run.status, 2, run.stderr)
    const want = await Promise.all(good.map(async (p) => xxhsumLine(await wholeFileDigest(p, { algo }))))
    assert.is(run.stdout, `${want.join('\n')}\n`)
    assert.is(run.stderr, `blockcopy: NOT_FOUND_VOLUME: FILE 2: ${missing} does not exist\n`)
    // The same lines as xxhsum itself, which also goes on past the missing file.
    const real = spawnSync('xxhsum', [algo === 'xxh3' ? '-H3' : '-H2', good[0], missing, good[1]], { encoding: 'utf8' })
    if (real.error) logSkip('xxhsum is not installed (apt-get install xxhash)')
    else assert.is(run.stdout, real.stdout)
  }
})

test('hash --xxhsum --json: an entry per file, the missing one with ok false and error { code, message }', async () => {
  const run = runCli(['hash', '--xxhsum', good[0], missing, good[1], '--json'])
  assert.is(run.status, 2, run.stderr)
  const out = JSON.parse(run.stdout) as { ok: boolean; files: Entry[] }
  assert.is(out.ok, false)
  assert.equal(out.files.map((e) => e.path), [good[0], missing, good[1]])
  assert.is(out.files[0]?.digest, (await wholeFileDigest(good[0])).digest)
  assert.is(out.files[2]?.digest, (await wholeFileDigest(good[1])).digest)
  assert.is(out.files[1]?.ok, false)
  assert.equal(out.files[1]?.error, { code: 'NOT_FOUND_VOLUME', message: `FILE 2: ${missing} does not exist` })
})

test('hash (manifests) A MISSING DIR C: the roots of A and C, each bad one named, exit 2; --json has an entry for each', async () => {
  const client = await createClient({ threads: 2 })
  let roots: string[]
  try {
    roots = await Promise.all(good.map(async (p) => (await client.hash(p).manifest)?.root ?? ''))
  } finally {
    await client.destroy()
  }
  const run = runCli(['hash', good[0], missing, sub, good[1], '--progress', 'none'])
  assert.is(run.status, 2, run.stderr)
  const lines = run.stdout.trimEnd().split('\n')
  assert.is(lines.length, 2, run.stdout)
  assert.ok(lines[0]?.startsWith(`${roots[0]}  ${good[0]}  (xxh3 root of 4 chunks of 1.00 MiB;`), lines[0])
  assert.ok(lines[1]?.startsWith(`${roots[1]}  ${good[1]}  (xxh3 root of 1 chunk of 1.00 MiB;`), lines[1])
  assert.equal(run.stderr.trimEnd().split('\n'), [
    `blockcopy: NOT_FOUND_VOLUME: FILE 2: ${missing} does not exist`,
    `blockcopy: INVALID_ARGUMENT: FILE 3: ${sub} is neither a regular file nor a block device`,
  ])

  const json = runCli(['hash', good[0], missing, sub, good[1], '--progress', 'none', '--json'])
  assert.is(json.status, 2, json.stderr)
  const out = JSON.parse(json.stdout) as { ok: boolean; files: Entry[] }
  assert.is(out.ok, false)
  assert.equal(out.files.map((e) => [e.path, e.root ?? null, e.error?.code ?? null]), [
    [good[0], roots[0], null], [missing, null, 'NOT_FOUND_VOLUME'], [sub, null, 'INVALID_ARGUMENT'], [good[1], roots[1], null],
  ])
})

test('hash -o still refuses a bad FILE before anything, as its one FILE', () => {
  const run = runCli(['hash', missing, '-o', join(dir, 'm.bcm')])
  assert.is(run.status, 2)
  assert.match(run.stderr, /NOT_FOUND_VOLUME: FILE 1: .*missing\.bin does not exist/)
  assert.is(run.stdout, '')
})

test('an unreadable file among missing ones: both modes go on, and exit 3, as I/O errors outrank bad input', async () => {
  const fault = await mountFaultFsIn(dir, [{ op: 'read', path: 'bad.bin', offset: MiB, length: 4096, errno: 'EIO' }])
  if (typeof fault === 'string') return logSkip(fault)
  try {
    const bad = join(fault.mountDir, 'bad.bin')
    writeRandomFile(bad, 2 * MiB, 3)
    for (const mode of [['--xxhsum'], ['--progress', 'none', '--direct', 'never']]) {
      const run = runCli(['hash', ...mode, missing, bad, good[1], '--json'])
      assert.is(run.status, 3, `${mode.join(' ')}: ${run.stderr}`)
      const out = JSON.parse(run.stdout) as { files: Entry[] }
      assert.equal(out.files.map((e) => e.error?.code ?? 'ok'), ['NOT_FOUND_VOLUME', 'EIO', 'ok'])
    }
  } finally {
    await fault.unmount()
  }
})

test.run()
