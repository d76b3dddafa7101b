import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { wholeFileDigest } from '../src/index.js'
import { cliArgs, ROOT } from './helpers/cli.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy hash --xxhsum - reads standard input, as xxhsum - does')
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-hash-stdin-')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Runs `blockcopy ARGS` with `input` piped into its standard input. */
function cliWithInput(args: string[], input: Buffer) {
  return spawnSync(process.execPath, cliArgs(args), { cwd: ROOT, input, encoding: 'utf8', timeout: 60_000 })
}

/** xxhsum's own answer for the same piped input; null when it is not installed (apt-get install xxhash). */
function xxhsum(args: string[], input: Buffer): string | null {
  const run = spawnSync('xxhsum', args, { input, encoding: 'utf8' })
  return run.error ? null : run.stdout
}

/** Piped inputs of 0 bytes, 1 byte and a few MiB (not whole pages, more than one 64 KiB pipe read), as files too. */
function inputs(): Array<{ name: string; bytes: Buffer; file: string }> {
  const big = join(dir, 'big.bin')
  writeRandomFile(big, 3 * MiB + 7, 9)
  const one = join(dir, 'one.bin')
  writeFileSync(one, 'x')
  const empty = join(dir, 'empty.bin')
  writeFileSync(empty, '')
  return [empty, one, big].map((file) => ({ name: file.slice(dir.length + 1), bytes: readFileSync(file), file }))
}

test('piped input of 0 bytes, 1 byte and 3 MiB prints exactly what xxhsum -H3 - and -H2 - print', async () => {
  let compared = 0
  for (const { name, bytes, file } of inputs()) {
    for (const [algo, flag] of [['xxh3', '-H3'], ['xxh128', '-H2']] as const) {
      const run = cliWithInput(['hash', '--xxhsum', '--algo', algo, '-'], bytes)
      assert.is(run.status, 0, `${name} ${algo}: ${run.stderr}`)
      // The digest of those bytes, whatever xxhsum is installed: the same as of the file that holds them.
      const digest = (await wholeFileDigest(file, { algo })).digest
      assert.is(run.stdout, algo === 'xxh3' ? `XXH3 (stdin) = ${digest}\n` : `${digest}  stdin\n`, `${name} ${algo}`)
      const real = xxhsum([flag, '-'], bytes)
      if (real === null) continue
      assert.is(run.stdout, real, `${name} ${algo}: xxhsum ${flag} -`)
      compared++
    }
  }
  if (compared === 0) logSkip('xxhsum is not installed (apt-get install xxhash): compared with the library only')
})

test('--json: standard input is an entry with path -, its size and digest, among the files around it', async () => {
  const [, one, big] = inputs()
  if (!one || !big) throw new Error('no inputs')
  const run = cliWithInput(['hash', '--xxhsum', one.file, '-', big.file, '--json'], big.bytes)
  assert.is(run.status, 0, run.stderr)
  const out = JSON.parse(run.stdout) as { ok: boolean; files: Array<{ path: string; ok: boolean; sizeBytes: number; digest: string }> }
  assert.is(out.ok, true)
  assert.equal(out.files.map((e) => [e.path, e.ok, e.sizeBytes]), [[one.file, true, 1], ['-', true, big.bytes.length], [big.file, true, big.bytes.length]])
  const digest = (await wholeFileDigest(big.file)).digest
  assert.is(out.files[1]?.digest, digest)
  assert.is(out.files[2]?.digest, digest)
  // The text form: stdin's line in its place.
  const text = cliWithInput(['hash', '--xxhsum', one.file, '-'], big.bytes)
  assert.is(text.status, 0, text.stderr)
  assert.is(text.stdout.split('\n')[1], `XXH3 (stdin) = ${digest}`)
})

test('- given twice, or without --xxhsum, is refused before anything is read or printed, exit 2', () => {
  const file = join(dir, 'f.bin')
  writeFileSync(file, 'f')
  const cases: Array<[string[], RegExp]> = [
    [['hash', '--xxhsum', '-', file, '-'], /^blockcopy: INVALID_ARGUMENT: FILE 3: - \(standard input\) may be given once, and was given as FILE 1\n$/],
    [['hash', '-'], /^blockcopy: INVALID_ARGUMENT: FILE 1: - \(standard input\) cannot be read by offset, as a manifest's chunks are; use --xxhsum for its whole-stream digest\n$/],
    [['hash', file, '-', '-o', join(dir, 'm.bcm')], /FILE 2: - \(standard input\) cannot be read by offset.*use --xxhsum/],
  ]
  for (const [args, message] of cases) {
    const run = cliWithInput(args, Buffer.from('piped'))
    assert.is(run.status, 2, `${args.join(' ')}: ${run.stderr}`)
    assert.match(run.stderr, message)
    assert.is(run.stdout, '')
  }
  const json = cliWithInput(['hash', '-', '--json'], Buffer.from('piped'))
  assert.is(json.status, 2)
  assert.is((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT')
})

test.run()
