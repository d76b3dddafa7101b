import { existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { main } from '../src/cli/main.js'
import { cliMessage, cliName } from '../src/cli/exit.js'
import { BlockcopyError } from '../src/errors.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { isRoot } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

/*
 * Every message a command-line user sees names what they typed: `--map`,
 * `--ignore-errors`, `--fallback copy`, `DST 2`, `--chunk`, `--since`; never
 * a library option (`chunkBytes`, `ignoreErrors`, `to[0]`, `from.offset`,
 * `null`). The table below goes through the refusals the command line can
 * produce, kind by kind (engine options, offsets and lengths, the rules
 * between options, paths, maps and manifests, each command's own), and runs
 * each through main() in this process, in text and in --json.
 */
const test = suite('CLI messages name the flags and arguments the user typed, never a library option')
const MiB = 1024 * 1024
let dir: string

/** What a library name looks like in a message: an option in camelCase, a region or range by index, a backticked name, a library value. */
const LIBRARY = [
  /`/,
  /\b[a-z]+[A-Z][A-Za-z]*\b/,
  /\b(?:to|ranges|replicas)\[\d+\]/,
  /\bfrom\.\w/,
  /\bnull\b/,
  /\btrue or false\b/,
  /\boptions?\./,
  /\b(?:with|needs|applies with|pass|give) (?:map|since|force|fallback|ignoreErrors|retryBad|all|length)\b/,
  /\((?:since|map)\)/,
]

/** Runs `blockcopy ...args` in this process: its exit code and what it printed on stderr, with the temp dir's name taken out. */
async function run(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = ''
  let stdout = ''
  const writeErr = process.stderr.write.bind(process.stderr)
  const writeOut = process.stdout.write.bind(process.stdout)
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString()
    return true
  }) as typeof process.stderr.write
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString()
    return true
  }) as typeof process.stdout.write
  try {
    const code = await main(['node', 'blockcopy', ...args])
    const clean = (s: string) => s.split(dir).join('<dir>')
    return { code, stderr: clean(stderr), stdout: clean(stdout) }
  } finally {
    process.stderr.write = writeErr
    process.stdout.write = writeOut
  }
}

/** The messages in what a command printed: its own lines and commander's, not the usage text after them. */
const messages = (stderr: string) => stderr.split('\n').filter((l) => /^(?:blockcopy|error): /.test(l)).join('\n')

function noLibraryNames(text: string, what: string): void {
  for (const re of LIBRARY) assert.not.match(text, re, `${what}: ${re} in\n${text}`)
}

/** Runs a command that must be refused: exit 2 (or `code`), a message naming `names`, and no library name anywhere in it. */
async function refused(args: string[], names: RegExp, code = 2): Promise<void> {
  const what = `blockcopy ${args.join(' ')}`.split(dir).join('<dir>')
  const r = await run(args)
  assert.is(r.code, code, `${what}: exit ${r.code}\n${r.stderr}`)
  assert.match(r.stderr, names, `${what}:\n${r.stderr}`)
  assert.ok(messages(r.stderr).length > 0, `${what}: no message:\n${r.stderr}`)
  noLibraryNames(messages(r.stderr), what)
  const json = await run([...args, '--json'])
  const errors = errorsIn(JSON.parse(json.stdout.trim().split('\n').pop() ?? 'null'))
  assert.ok(errors.length > 0, `${what} --json: no error object in ${json.stdout}`)
  for (const e of errors) noLibraryNames(`${e.message} ${e.argument ?? ''}`, `${what} --json`)
}

/** Every { code, message, argument? } in a --json document (one per path for caps and hash). */
function errorsIn(doc: unknown): Array<{ message: string; argument?: string }> {
  if (Array.isArray(doc)) return doc.flatMap(errorsIn)
  if (typeof doc !== 'object' || doc === null) return []
  const o = doc as Record<string, unknown>
  const own = o.error && typeof o.error === 'object' ? [o.error as { message: string; argument?: string }] : []
  return [...own, ...Object.entries(o).filter(([k]) => k !== 'error').flatMap(([, v]) => errorsIn(v))]
}

test.before(() => {
  dir = makeTempDir('cli-messages')
})
test.after(() => {
  removeTempDir(dir)
})

const p = (name: string) => join(dir, name)

test('the translation: options, regions, ranges and replicas by their command-line names, inside a message too', () => {
  const t = (message: string, argument: string) => cliMessage(new BlockcopyError('INVALID_ARGUMENT', message, argument))
  assert.is(t('fillBad: only applies with `ignoreErrors` or `retryBad`', 'fillBad'), '--fill-bad: only applies with --ignore-errors or --retry-bad')
  assert.is(t("type: cannot clone: EXDEV; give `fallback: 'copy'` to copy instead", 'type'), '--type: cannot clone: EXDEV; give --fallback copy to copy instead')
  assert.is(t('to[1].offset: 5 is past the end', 'to[1].offset'), '--dst-offset (DST 2): 5 is past the end')
  assert.is(t('to[0]: bytes 0..5 of /x overlap `from` bytes 0..5', 'to[0]'), 'DST 1: bytes 0..5 of /x overlap SRC bytes 0..5')
  assert.is(t('ranges[2].srcOffset: bad; see ranges[0]', 'ranges[2].srcOffset'), '--range 3 (SRC_OFF): bad; see --range 1')
  assert.is(t('replicas[1]: /a is the same file as replicas[0]', 'replicas[1]'), 'REPLICA 2: /a is the same file as REPLICA 1')
  assert.is(t('zero it with `all: true`', 'to[0]'), 'zero it with --all')
  // With one destination the command line calls it DST, as its usage does; with several, DST 1, DST 2...
  const one = (message: string, argument: string) => cliMessage(new BlockcopyError('INVALID_ARGUMENT', message, argument), { dstCount: 1 })
  assert.is(one('to[0]: bytes 0..5 of /x overlap `from` bytes 0..5', 'to[0]'), 'DST: bytes 0..5 of /x overlap SRC bytes 0..5')
  assert.is(one('to[0].offset: 5 is past the end', 'to[0].offset'), '--dst-offset: 5 is past the end')
  assert.is(one('map: /m records bytes, but to[0].path /d does not exist', 'map'), '--map: /m records bytes, but DST /d does not exist')
  assert.is(cliMessage(new BlockcopyError('INVALID_ARGUMENT', 'to[1]: overlaps to[0]', 'to[1]'), { dstCount: 2 }), 'DST 2: overlaps DST 1')
  assert.is(cliName('to[0].offset', { dstCount: 1 }), '--dst-offset')
  assert.is(cliName('to[0].offset', { dstCount: 3 }), '--dst-offset (DST 1)')
  // A name the command line has none for stays as it is.
  assert.is(t('signal: must be an AbortSignal', 'signal'), 'signal: must be an AbortSignal')
  assert.is(cliName('from.offset'), '--src-offset')
  assert.is(cliName('chunkBytes'), '--chunk')
  assert.is(cliName('notify'), null)
})

test('copy: engine options, offsets and lengths', async () => {
  writeRandomFile(p('src.img'), MiB + 123, 1)
  mkdirSync(p('folder'))
  const src = p('src.img')
  const dst = p('dst.img')
  await refused(['copy', src, dst, '--chunk', '3KiB'], /--chunk: /)
  await refused(['copy', src, dst, '--chunk', '32MiB'], /--chunk: /)
  await refused(['copy', src, dst, '--threads', '0'], /--threads: /)
  await refused(['copy', src, dst, '--threads', 'x'], /--threads: /)
  await refused(['copy', src, dst, '--threads', '64', '--chunk', '16MiB'], /--threads: 64 with --chunk 16MiB needs --memory/)
  await refused(['copy', src, dst, '--memory', '1KiB'], /--memory: /)
  // The least budget that holds one thread, to the KiB: 2 × (64 KiB + 4 KiB), not a MiB.
  await refused(['copy', src, dst, '--memory', '132KiB', '--chunk', '64KiB'], /--memory: 132KiB cannot hold one thread's 2 buffers of --chunk 64KiB \+ 4KiB; give --memory 136KiB or more/)
  await refused(['copy', src, p('sparse.img'), '--sparse', '--no-sparse'], /--sparse: and --no-sparse exclude each other/)
  await refused(['copy', src, p('sparse.img'), '--no-sparse', '--sparse'], /--sparse: and --no-sparse exclude each other/)
  assert.not.ok(existsSync(p('sparse.img')), 'nothing created')
  await refused(['copy', src, dst, '--src-offset', '5GiB'], /--src-offset: /)
  await refused(['copy', src, dst, '--src-offset', 'abc'], /--src-offset: /)
  await refused(['copy', src, dst, '--length', '5GiB'], /--length: /)
  await refused(['copy', src, dst, p('dst2.img'), '--dst-offset', '0', '--dst-offset', '1', '--dst-offset', '2'], /--dst-offset/)
  await refused(['copy', src, dst, '--dst-offset', '-5'], /--dst-offset/)
  await refused(['copy', src, src], /INVALID_ARGUMENT: DST: .* overlap SRC /)
  await refused(['copy', src, src, '--length', '512KiB', '--dst-offset', '256KiB'], /INVALID_ARGUMENT: DST: bytes 262144\.\.786432 of .* overlap SRC bytes 0\.\.524288/)
  await refused(['copy', src, src, dst, '--length', '512KiB', '--dst-offset', '256KiB'], /INVALID_ARGUMENT: DST 1: bytes 262144\.\.786432 of .* overlap SRC /)
  // --json names the argument as the message does.
  const argument = async (args: string[]) => (JSON.parse((await run([...args, '--json'])).stdout) as { error: { argument?: string } }).error.argument
  assert.is(await argument(['copy', src, src]), 'DST')
  assert.is(await argument(['copy', src, src, dst]), 'DST 1')
  await refused(['copy', src, dst, dst], /DST 2: .* overlap DST 1 /)
  await refused(['copy', src, dst, '--rate', '100'], /--rate: must be at least 4096 bytes/)
  await refused(['copy', src, dst, '--rate', 'fast'], /--rate: /)
  await refused(['copy', src, dst, '--verify', 'bogus'], /--verify/)
  await refused(['copy', p('missing.img'), dst], /NOT_FOUND_VOLUME: SRC: /)
  await refused(['copy', src, p('no/such/dir/dst.img')], /NOT_FOUND_VOLUME: DST: /)
  await refused(['copy', src, dst, p('no/such/dir/dst.img')], /NOT_FOUND_VOLUME: DST 2: /)
  await refused(['copy', p('folder'), dst], /SRC: .* is neither a regular file nor a block device/)
  await refused(['copy', src, p('folder')], /INVALID_ARGUMENT: DST: .* is neither a regular file nor a block device/)
})

test('copy: the rules between --map, --retry-bad, --fill-bad, --since, --force, --check-dest and --checkpoint', async () => {
  const src = p('src.img')
  const dst = p('dst.img')
  const m = p('dst.bcm')
  const map = p('copy.map')
  assert.is((await run(['copy', src, dst, '--progress', 'none'])).code, 0)
  assert.is((await run(['hash', dst, '-o', m, '--progress', 'none'])).code, 0)
  await refused(['copy', src, dst, '--fill-bad', 'zero'], /--fill-bad: only applies with --ignore-errors or --retry-bad/)
  await refused(['copy', src, dst, '--map-interval', '100'], /--map-interval: only applies with --map/)
  await refused(['copy', src, dst, '--retry-bad', '2'], /--retry-bad: needs the map that recorded the bad blocks \(--map\)/)
  await refused(['copy', src, dst, '--map', map, '--map-interval', '10'], /--map-interval: /)
  await refused(['copy', src, dst, '--map', map, '--retry-bad', '0'], /--retry-bad: /)
  await refused(['copy', src, dst, '--map', map, '--retry-bad', '1'], /--retry-bad: needs an existing map/)
  await refused(['copy', src, dst, '--since', m, '--map', map], /--map: an incremental copy \(--since\) cannot also resume/)
  await refused(['copy', src, dst, '--force'], /--force: only applies with --since or --map/)
  await refused(['copy', src, dst, '--check-dest'], /--check-dest: only applies with --since/)
  await refused(['copy', src, dst, '--checkpoint', p('ckpt')], /--checkpoint: only applies with --since/)
  await refused(['copy', src, dst, '--since', m, '--ignore-errors', '--fill-bad', 'zero'], /--fill-bad: an incremental copy \(--since\)/)
  await refused(['copy', src, dst, '--since', m, '--chunk', '64KiB'], /--chunk: .*differs from the manifest's chunk size/)
  await refused(['copy', src, dst, '--since', m, '--dst-offset', '4096'], /--since: /)
  await refused(['copy', src, dst, p('dst2.img'), '--since', m], /--since: an incremental copy has exactly one destination/)
  await refused(['copy', src, dst, '--since', src], /--since: .* is SRC/)
  await refused(['copy', src, dst, '--map', src], /--map: .* is SRC/)
  // A destination changed behind its manifest: the refusal says what --force would do.
  writeRandomFile(dst, MiB + 123, 9)
  await refused(['copy', src, dst, '--since', m], /MANIFEST_MISMATCH: --since: .*\(--force copies every chunk\)/)
  await refused(['copy', src, dst, '--since', m, '--check-dest'], /MANIFEST_MISMATCH: --since: .*\(--force writes the chunks where/)
  // A map of another range; of bytes done on a destination that is gone; of another source.
  assert.is((await run(['copy', src, dst, '--map', map, '--length', '64KiB', '--progress', 'none'])).code, 0)
  await refused(['copy', src, dst, '--map', map], /--map: .* covers source bytes/)
  await refused(['copy', src, p('elsewhere.img'), '--map', map, '--length', '64KiB'], /--map: .* but DST <dir>\/elsewhere\.img does not exist/)
  writeRandomFile(p('other.img'), MiB + 123, 3)
  await refused(['copy', p('other.img'), dst, '--map', map, '--length', '64KiB'], /MAP_MISMATCH: --map: .*give --force to resume it anyway/)
})

test('zero: lengths, offsets and whole devices', async () => {
  const dst = p('zero.img')
  writeRandomFile(dst, MiB, 4)
  writeRandomFile(p('zero2.img'), 2 * MiB, 5)
  await refused(['zero', p('new.img')], /INVALID_ARGUMENT: DST: required, since .* does not exist yet/)
  await refused(['zero', dst, '--dst-offset', '5GiB'], /INVALID_ARGUMENT: --dst-offset: 5368709120 is past the end/)
  await refused(['zero', dst, p('zero2.img'), '--dst-offset', '5GiB'], /INVALID_ARGUMENT: --dst-offset \(DST 1\): 5368709120 is past the end/)
  await refused(['zero', dst, '--dst-offset', 'abc'], /--dst-offset/)
  await refused(['zero', dst, '--all', '--length', '4096'], /--all: /)
  await refused(['zero', dst, p('zero2.img')], /DST 2: every destination zeroes the same length/)
  await refused(['zero', dst, '--length', '4096', '--verify', 'hash'], /--verify/)
  if (!isRoot()) return
  const image = p('loop.img')
  writeFileSync(image, '')
  truncateSync(image, 4 * MiB)
  const loop = await attachLoop(image)
  try {
    await refused(['zero', loop], /DST: .* is a block device; give --length, or --all/)
    await refused(['zero', loop, '--length', '8MiB'], /INVALID_ARGUMENT: DST: bytes .* pass the end of device/)
  } finally {
    await detachLoop(loop)
  }
})

test('replicate: ranges, types and the fallback', async () => {
  const src = p('src.img')
  const dst = p('rep.img')
  const ranges = p('ranges.txt')
  writeFileSync(ranges, '0 0 4096\n0 0\n')
  await refused(['replicate', src, dst, '--type', 'copy'], /--range: give at least one --range/)
  await refused(['replicate', src, dst, '--range', '0:0', '--type', 'copy'], /--range 1: expected SRC_OFF DST_OFF LEN/)
  await refused(['replicate', src, dst, '--range', '0:0:0', '--type', 'copy'], /--range 1 \(length\): must be at least 1 byte/)
  await refused(['replicate', src, dst, '--range', '5GiB:0:1', '--type', 'copy'], /--range 1: source bytes .* pass the end/)
  await refused(['replicate', src, dst, '--range', 'x:0:1', '--type', 'copy'], /--range 1 SRC_OFF: /)
  await refused(['replicate', src, dst, '--ranges', ranges, '--type', 'copy'], /--ranges .*ranges\.txt line 2: expected SRC_OFF DST_OFF LEN/)
  await refused(['replicate', src, dst, '--range', '0:0:1', '--type', 'move'], /--type/)
  await refused(['replicate', src, ranges, '--ranges', ranges, '--type', 'copy'], /DST: .*--ranges|--ranges: .* DST/)
  // The temporary directory's file system may clone (XFS, btrfs) or not: where it cannot, the refusal names the fallback as typed.
  const clone = await run(['replicate', src, dst, '--range', '4095:0:1', '--type', 'clone'])
  if (clone.code === 2) {
    assert.match(clone.stderr, /NO_SUPPORT: --type: cannot clone: .*give --fallback copy to copy instead/)
    noLibraryNames(messages(clone.stderr), 'replicate --type clone')
  }
})

test('hash, verify, caps, bench and jobs', async () => {
  const src = p('src.img')
  const dst = p('dst.img')
  const m = p('src.bcm')
  assert.is((await run(['hash', src, '-o', m, '--progress', 'none'])).code, 0)
  writeFileSync(p('text.txt'), 'not a manifest\n')
  await refused(['hash', src, '-o', src], /-o: .* is FILE 1/)
  await refused(['hash', src, dst, '-o', p('x.bcm')], /-o: a manifest describes one FILE/)
  await refused(['hash', src, '--xxhsum', '-o', p('x.bcm')], /-o: --xxhsum/)
  await refused(['hash', src, '--chunk', '3KiB'], /--chunk: /)
  await refused(['hash', '-'], /FILE 1: .*--xxhsum/)
  await refused(['hash', p('folder')], /FILE 1: .* is neither a regular file nor a block device/)
  await refused(['hash', src, '--algo', 'md5'], /--algo/)
  await refused(['verify', src], /REPLICA: give SRC and at least one REPLICA/)
  await refused(['verify', src, dst, '--range', '1:2:3'], /--range 1: .* is not OFF:LEN/)
  await refused(['verify', src, dst, '--range', '0:5GiB'], /--range 1: bytes .* pass the end of/)
  await refused(['verify', src, dst, '--range', '0:1MiB', '--range', '4096:1'], /--range 2: bytes .* overlap --range 1/)
  await refused(['verify', src, src], /REPLICA 1: .* is the same file or device as the source /)
  await refused(['verify', src, dst, dst], /REPLICA 2: .* is the same file or device as REPLICA 1/)
  await refused(['verify', '--manifest', m, dst, '--range', '1:1'], /--range 1: against a manifest, ranges must start and end on its/)
  await refused(['verify', '--manifest', p('text.txt'), dst], /--manifest: .* is not a blockcopy manifest/)
  await refused(['verify', src, dst, '--threads', '100'], /--threads: /)
  // A manifest of 16 MiB chunks: the budget refusal names --memory and the manifest's chunks, not a --threads or --chunk never typed.
  const m16 = p('src16.bcm')
  assert.is((await run(['hash', src, '--chunk', '16MiB', '-o', m16, '--progress', 'none'])).code, 0)
  const budget = /blockcopy: INVALID_ARGUMENT: --memory: 32MiB cannot hold one thread's 2 buffers of the manifest's 16MiB chunks \+ 4KiB; give --memory 32776KiB or more\n/
  await refused(['verify', '--manifest', m16, src, dst, '--memory', '32MiB'], budget)
  assert.not.match(messages((await run(['verify', '--manifest', m16, src, dst, '--memory', '32MiB'])).stderr), /--threads|--chunk/)
  // A --chunk the manifest's chunks are not is refused, not silently replaced by them; the same size is taken.
  await refused(['verify', '--manifest', m16, src, dst, '--chunk', '1MiB'], /--chunk: 1MiB differs from the manifest's chunk size, 16\.00 MiB/)
  assert.is((await run(['verify', '--manifest', m16, src, '--chunk', '16MiB', '--progress', 'none'])).code, 0)
  await refused(['caps', p('folder')], /PATH 1: /)
  await refused(['bench', '--size', '0'], /--size: /)
  await refused(['bench', '--chunk', '3KiB'], /--chunk/)
  await refused(['bench', '--target', p('nowhere')], /--target: /)
  await refused(['bench', '--runs', '0'], /--runs: /)
  await refused(['jobs', 'status', 'not-an-id'], /ID: /)
})

test.run()
