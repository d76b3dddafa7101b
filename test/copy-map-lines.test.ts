import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { parseMap } from '../src/journal/mapfile.js'
import { runCli } from './helpers/cli.js'
import { refuses } from './helpers/refuses.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('every number in a map\'s blockcopy lines is checked: a hand-edited one is named, never a crash')
const KiB = 1024
const MiB = 1024 * KiB
const SIZE = 8 * MiB
let client: CopyClient
let dir: string
let src: string
let dst: string
let map: string
/** The map a finished copy left. */
let text: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: 256 * KiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(async () => {
  dir = makeTempDir('copy-map-lines')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
  map = join(dir, 'copy.map')
  writeRandomFile(src, SIZE, 141)
  const r = await client.copy({ path: src }, [{ path: dst }], { map }).result
  assert.is(r.ok, true)
  text = readFileSync(map, 'utf8')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** The map with its line starting `# blockcopy NAME` replaced by `line`; returns that line's number. */
function edit(name: string, line: string): number {
  const lines = text.split('\n')
  let at = lines.findIndex((l) => l.startsWith(`# blockcopy ${name}`))
  if (at < 0) at = lines.findIndex((l) => l.startsWith('# current_pos'))
  lines.splice(at, lines[at]?.startsWith(`# blockcopy ${name}`) ? 1 : 0, line)
  writeFileSync(map, lines.join('\n'))
  return at + 1
}

/** Resuming is refused as INVALID_ARGUMENT naming the map, the line and `why`; the map stays as edited. */
function refusedAt(line: number, why: RegExp): void {
  const edited = readFileSync(map, 'utf8')
  refuses(() => client.copy({ path: src }, [{ path: dst }], { map }), 'INVALID_ARGUMENT', new RegExp(`^map: .*copy\\.map line ${line}: ${why.source}`))
  assert.is(readFileSync(map, 'utf8'), edited)
}

test('a sample block larger than blockcopy samples (0:5000000000:-): refused, naming the line, before anything is read', () => {
  refusedAt(edit('source-sample', '# blockcopy source-sample 0:5000000000:-'), /source sample block "0:5000000000:-" is 5000000000 bytes; blockcopy samples blocks of at most 4096/)
})

test('the same on the command line: exit 2 with the message, no stack trace', () => {
  edit('source-sample', '# blockcopy source-sample 0:5000000000:-')
  const run = runCli(['copy', src, dst, '--map', map, '--progress', 'none'])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /^blockcopy: INVALID_ARGUMENT: --map: .*copy\.map line \d+: source sample block "0:5000000000:-" is 5000000000 bytes/)
  assert.not.match(run.stderr, /^\s+at /m)
})

test('a sample block outside the source range the map covers, or more blocks than blockcopy samples: refused', () => {
  refusedAt(edit('source-sample', '# blockcopy source-sample 8388000:4096:-'), /source sample block 8388000:4096 is not inside the source bytes 0\.\.8388608 the map covers/)
  refusedAt(edit('source-sample', `# blockcopy source-sample${' 0:4096:-'.repeat(9)}`), /9 source sample blocks; blockcopy samples at most 8/)
})

test('a source identity, mtime or destination identity that is not one: refused', () => {
  refusedAt(edit('source-identity', '# blockcopy source-identity ino:12'), /source identity "ino:12" is not ino:DEV:INO, dev:RDEV, wwid:, serial:, dm-uuid: or udev-serial: with an optional \+OFFSET/)
  refusedAt(edit('source-identity', '# blockcopy source-identity dev:7+99999999999999999'), /source identity "dev:7\+99999999999999999" is not/)
  refusedAt(edit('source-mtime', '# blockcopy source-mtime 17e9'), /source mtime "17e9" is not a whole number of nanoseconds/)
  refusedAt(edit('dest-identity', '# blockcopy dest-identity ino:1:2 bogus'), /destination identity "bogus" is not ino:DEV:INO/)
  refusedAt(edit('dest-identity', `# blockcopy dest-identity${' dev:1'.repeat(9)}`), /9 destination identities; a copy has 1 to 8/)
})

test('lines as blockcopy writes them, with a disk\'s serial and an offset, are read back as written', () => {
  edit('source-identity', '# blockcopy source-identity serial:QM%2000001+1048576')
  assert.is(parseMap(readFileSync(map, 'utf8'), map).sourceIdentity, 'serial:QM%2000001+1048576')
})

test.run()
