import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { hasProgram } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const KiB = 1024
const MiB = 1024 * KiB
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SOURCE_BYTES = MiB + 512

interface CliRun {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI from source in the repo root and waits for it. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env },
  })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

/** One kind of bad input, and how the CLI must name it. */
interface BadCase {
  name: string
  /** Arguments after `copy`, given the source path and a fresh temp dir. */
  args: (src: string, dir: string) => string[]
  env?: NodeJS.ProcessEnv
  code: string
  /** The CLI spelling the message must start with, after `blockcopy: CODE: `. */
  names: string
}

const dst = (dir: string, n = 1) => join(dir, `dst${n}.bin`)

const cases: BadCase[] = [
  {
    name: 'a missing source is NOT_FOUND_VOLUME naming SRC',
    args: (_src, dir) => [join(dir, 'no-such-source.bin'), dst(dir)],
    code: 'NOT_FOUND_VOLUME',
    names: 'SRC',
  },
  {
    name: 'a --length that runs past the end of the source is rejected naming --length',
    args: (src, dir) => [src, dst(dir), '--src-offset', '4KiB', '--length', '1MiB'],
    code: 'INVALID_ARGUMENT',
    names: '--length',
  },
  {
    name: 'a --src-offset past the end of the source is rejected naming --src-offset',
    args: (src, dir) => [src, dst(dir), '--src-offset', '2MiB'],
    code: 'INVALID_ARGUMENT',
    names: '--src-offset',
  },
  {
    name: '--chunk 1KiB, below the smallest chunk, is rejected naming --chunk',
    args: (src, dir) => [src, dst(dir), '--chunk', '1KiB'],
    code: 'INVALID_ARGUMENT',
    names: '--chunk',
  },
  {
    name: '--chunk 32MiB, above the largest chunk, is rejected naming --chunk',
    args: (src, dir) => [src, dst(dir), '--chunk', '32MiB'],
    code: 'INVALID_ARGUMENT',
    names: '--chunk',
  },
  {
    name: '--chunk 100000, not a multiple of 4096, is rejected naming --chunk',
    args: (src, dir) => [src, dst(dir), '--chunk', '100000'],
    code: 'INVALID_ARGUMENT',
    names: '--chunk',
  },
  {
    name: 'nine destinations are rejected naming DST',
    args: (src, dir) => [src, ...Array.from({ length: 9 }, (_, i) => dst(dir, i + 1))],
    code: 'INVALID_ARGUMENT',
    names: 'DST',
  },
  {
    name: 'a destination that is the source with overlapping bytes is rejected naming DST, the one destination',
    args: (src) => [src, src, '--dst-offset', '4KiB'],
    code: 'INVALID_ARGUMENT',
    names: 'DST',
  },
  {
    name: '--length 12xyz is not a size and is rejected naming --length',
    args: (src, dir) => [src, dst(dir), '--length', '12xyz'],
    code: 'INVALID_ARGUMENT',
    names: '--length',
  },
  {
    name: '--threads 0 is rejected naming --threads',
    args: (src, dir) => [src, dst(dir), '--threads', '0'],
    code: 'INVALID_ARGUMENT',
    names: '--threads',
  },
  {
    name: '--direct always without the native addon is NO_SUPPORT naming --direct',
    args: (src, dir) => [src, dst(dir), '--direct', 'always'],
    env: { BLOCKCOPY_IO: 'fs' },
    code: 'NO_SUPPORT',
    // The message names the file first (SRC), then the option and the reason.
    names: 'SRC: --direct always',
  },
]

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

for (const c of cases) {
  test(`${c.name}; it exits 2, prints a JSON error with --json and creates no destination`, () => {
    const dir = makeTempDir('cli-bad-input')
    try {
      const src = join(dir, 'src.bin')
      const pristine = join(dir, 'pristine.bin')
      writeRandomFile(src, SOURCE_BYTES, 7)
      copyFileSync(src, pristine)
      const run = cli(['copy', ...c.args(src, dir), '--json'], c.env)
      assert.is(run.status, 2, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
      assert.match(run.stderr, new RegExp(`^blockcopy: ${c.code}: ${escape(c.names)}[:,]`, 'm'))
      const lines = run.stdout.split('\n').filter((line) => line.trim() !== '')
      assert.is(lines.length, 1, `stdout should be one JSON line, got:\n${run.stdout}`)
      const out = JSON.parse(lines[0] ?? '') as { ok?: unknown; error?: { code?: unknown; message?: unknown } }
      assert.is(out.ok, false)
      assert.is(out.error?.code, c.code)
      assert.type(out.error?.message, 'string')
      assert.ok(String(out.error?.message).startsWith(c.names), String(out.error?.message))
      // Nothing created, nothing written: only the two files made above remain, unchanged.
      assert.equal(readdirSync(dir).sort(), ['pristine.bin', 'src.bin'])
      assert.ok(cmpFiles(pristine, src), 'the source changed')
    } finally {
      removeTempDir(dir)
    }
  })
}

test('--direct bogus is a usage error: exit 2, the message names --direct, a JSON error with --json and no destination', () => {
  const dir = makeTempDir('cli-bad-input')
  try {
    const src = join(dir, 'src.bin')
    writeRandomFile(src, 64 * KiB, 8)
    const run = cli(['copy', src, dst(dir), '--direct', 'bogus', '--json'])
    assert.is(run.status, 2, run.stderr)
    assert.match(run.stderr, /--direct/)
    assert.match(run.stderr, /bogus/)
    assert.not.ok(existsSync(dst(dir)))
    const lines = run.stdout.split('\n').filter((line) => line.trim() !== '')
    assert.is(lines.length, 1, `with --json, stdout should be one JSON error line, got:\n${run.stdout}`)
    const out = JSON.parse(lines[0] ?? '') as { ok?: unknown; error?: { code?: unknown; message?: unknown } }
    assert.is(out.ok, false)
    assert.is(out.error?.code, 'INVALID_ARGUMENT')
    assert.match(String(out.error?.message), /--direct/)
  } finally {
    removeTempDir(dir)
  }
})

test('a later destination that cannot be opened for writing exits 2 and leaves no earlier destination created', () => {
  const why = skipUnlessRoot('sets the immutable attribute') ?? (hasProgram('chattr') ? null : 'chattr is not installed (e2fsprogs)')
  if (why) return logSkip(why)
  const dir = makeTempDir('cli-bad-input')
  const locked = join(dir, 'locked.bin')
  try {
    const src = join(dir, 'src.bin')
    writeRandomFile(src, 64 * KiB, 9)
    writeRandomFile(locked, 64 * KiB, 10)
    copyFileSync(locked, join(dir, 'locked-before.bin'))
    const chattr = spawnSync('chattr', ['+i', locked], { encoding: 'utf8' })
    if (chattr.status !== 0) return logSkip(`chattr +i failed here: ${chattr.stderr.trim()}`)
    // Even root may not open an immutable file for writing: EPERM, after DST 1 was checked.
    const run = cli(['copy', src, dst(dir), locked, '--json'])
    assert.is(run.status, 2, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
    // One line naming the code once: SystemError messages already start with it.
    assert.match(run.stderr, /^blockcopy: EPERM: DST 2: .*locked\.bin cannot be written$/m)
    assert.ok(run.stderr.includes(locked), run.stderr)
    const lines = run.stdout.split('\n').filter((line) => line.trim() !== '')
    assert.is(lines.length, 1, run.stdout)
    assert.is((JSON.parse(lines[0] ?? '') as { error?: { code?: unknown } }).error?.code, 'EPERM')
    assert.ok(cmpFiles(join(dir, 'locked-before.bin'), locked), 'the immutable destination changed')
    assert.not.ok(existsSync(dst(dir)), 'DST 1 was created although the copy was rejected')
  } finally {
    spawnSync('chattr', ['-i', locked], { stdio: 'ignore' })
    removeTempDir(dir)
  }
})

test.run()
