import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { quoted } from '../src/quote.js'
import { runCli } from './helpers/cli.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('errors quote and cut what they show of a file\'s content')
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-content-quoted')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** A message fit for a terminal: printable ASCII lines, none longer than a few hundred characters. */
function assertPrintable(text: string, what: string): void {
  assert.ok(/^[\x20-\x7e\n]*$/.test(text), `${what} has only printable ASCII: ${JSON.stringify(text.slice(0, 300))}`)
  for (const line of text.split('\n')) assert.ok(line.length <= 400, `${what}: a line of ${line.length} characters`)
}

/** Bytes with no NUL and no line break: control characters, an escape sequence, and bytes that are not UTF-8. */
function binaryWithoutNul(bytes: number): Buffer {
  const out = Buffer.alloc(bytes)
  for (let i = 0; i < bytes; i++) out[i] = [0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x07, 0x80, 0xff, 0xc3, 0x09][i % 10] as number
  return out
}

test('quoted(): JSON-style escapes, printable ASCII only, cut to 40 characters with how many more', () => {
  assert.is(quoted('0x0 ? 1'), '"0x0 ? 1"')
  assert.is(quoted('a"b\\c\n\t\u0000\u001b[2J'), '"a\\"b\\\\c\\n\\t\\u0000\\u001b[2J"')
  assert.is(quoted(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0xff])), '"\\u007fELF\\u0000\\u00ff"')
  assert.is(quoted('x'.repeat(41)), `"${'x'.repeat(40)}"... (1 more character)`)
  assert.is(quoted('x'.repeat(1_000_000)), `"${'x'.repeat(40)}"... (999960 more characters)`)
  // Escapes count against the 40, and a surrogate pair is never cut in half.
  assert.is(quoted('\u0000'.repeat(10)), `"${'\\u0000'.repeat(6)}"... (4 more characters)`)
  assert.is(quoted('\u{1f600}'.repeat(5)), `"${'\\ud83d\\ude00'.repeat(3)}"... (2 more characters)`)
  assert.is(quoted('é'), '"\\u00e9"')
  // A Buffer is a file's start: cut without a count.
  assert.is(quoted(Buffer.alloc(100, 0x41)), `"${'A'.repeat(40)}"...`)
})

test('a --map that is a data file (a disk image): refused from its first bytes, shown quoted, nothing written', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const image = join(dir, 'disk.img')
  writeRandomFile(src, MiB, 1)
  // A disk image: a boot sector's code, then zeros.
  const data = Buffer.concat([Buffer.from([0xeb, 0x63, 0x90, 0x1b, 0x5b, 0x32, 0x4a]), Buffer.alloc(4 * MiB)])
  writeFileSync(image, data)
  const run = runCli(['copy', src, dst, '--map', image, '--progress', 'none'])
  assert.is(run.status, 2, run.stderr)
  assertPrintable(run.stderr, 'stderr')
  assert.match(run.stderr, /INVALID_ARGUMENT: --map: .*disk\.img is not a ddrescue mapfile but binary data \(a NUL byte at byte 7\); it begins "\\u00ebc\\u0090\\u001b\[2J\\u0000\\u0000\\u0000/)
  assert.match(run.stderr, /\\u0000"\.\.\.$/m)
  assert.ok(readFileSync(image).equals(data), 'the data file is untouched')
  assert.not.ok(existsSync(dst), 'no destination created')
})

test('a --map of binary bytes without a NUL, and one with a line of a million characters: the line is quoted and cut', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, MiB, 2)
  const binary = join(dir, 'binary.map')
  writeFileSync(binary, Buffer.concat([Buffer.from('0x0 '), binaryWithoutNul(200_000)]))
  const a = runCli(['copy', src, dst, '--map', binary, '--progress', 'none'])
  assert.is(a.status, 2, a.stderr)
  assertPrintable(a.stderr, 'stderr')
  assert.match(a.stderr, /--map: .*binary\.map line 1: current status "\\u001b\[31m\\u0007\\ufffd/)
  const long = join(dir, 'long.map')
  writeFileSync(long, `# Mapfile\n0x0 ? 1\n0x0 ${'9'.repeat(1_000_000)} +\n`)
  const b = runCli(['copy', src, dst, '--map', long, '--progress', 'none'])
  assert.is(b.status, 2, b.stderr)
  assertPrintable(b.stderr, 'stderr')
  assert.match(b.stderr, new RegExp(`--map: .*long\\.map line 3: size "${'9'.repeat(40)}"\\.\\.\\. \\(999960 more characters\\) is not a whole number of bytes`))
  assert.not.ok(existsSync(dst), 'no destination created')
})

test('a --ranges file that is binary, or has a huge line: the field is quoted and cut, nothing written', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, MiB, 3)
  const binary = join(dir, 'binary.ranges')
  writeFileSync(binary, binaryWithoutNul(100_000))
  const a = runCli(['replicate', src, dst, '--ranges', binary, '--type', 'copy', '--progress', 'none'])
  assert.is(a.status, 2, a.stderr)
  assertPrintable(a.stderr, 'stderr')
  assert.match(a.stderr, /--ranges .*binary\.ranges line 1: expected SRC_OFF DST_OFF LEN, got "\\u001b\[31m/)
  const long = join(dir, 'long.ranges')
  writeFileSync(long, `0 0 4096\n${'k'.repeat(500_000)} 0 4096\n`)
  const b = runCli(['replicate', src, dst, '--ranges', long, '--type', 'copy', '--progress', 'none'])
  assert.is(b.status, 2, b.stderr)
  assertPrintable(b.stderr, 'stderr')
  assert.match(b.stderr, /--ranges .*long\.ranges line 2 SRC_OFF: "k{40}"\.\.\. \(499960 more characters\) is not a size/)
  assert.not.ok(existsSync(dst), 'no destination created')
})

test('a --manifest that is not a manifest says what it begins with, quoted', () => {
  const replica = join(dir, 'replica.img')
  writeRandomFile(replica, MiB, 4)
  const text = join(dir, 'copy.map')
  writeFileSync(text, '# Mapfile. Created by blockcopy\n0x0 + 1\n' + 'x'.repeat(100))
  const run = runCli(['verify', '--manifest', text, replica, '--progress', 'none'])
  assert.is(run.status, 2, run.stderr)
  assertPrintable(run.stderr, 'stderr')
  assert.match(run.stderr, /BAD_MANIFEST: --manifest: .*copy\.map is not a blockcopy manifest: it begins "# Mapfile\. Created by blockcopy\\n0x0 \+ 1"\.\.\., not "BCMANIF\\u0000"/)
})

test.run()
