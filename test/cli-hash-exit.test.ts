import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { mountFaultFsIn, type FaultRule } from './helpers/faultfs.js'
import { crashed, rootsDir, runAsNobody, skipUnlessNobody } from './helpers/nobody.js'
import { logSkip } from './helpers/root.js'
import { removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('hash gives a file that cannot be read the same exit code with --xxhsum as with manifests')
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  // Readable by nobody, for the first test.
  dir = rootsDir('cli-hash-exit-')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** The two modes of hash, manifests through the workers (with buffered reads, which FUSE serves) and --xxhsum. */
const MODES = [['--progress', 'none', '--direct', 'never'], ['--xxhsum']] as const

interface Entry {
  path: string
  ok: boolean
  error?: { code: string; message: string }
}

test('a root-only file, as nobody: exit 2 in both modes, the same line, EACCES in --json; the readable one is hashed', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const pub = join(dir, 'pub.bin')
  const priv = join(dir, 'priv.bin')
  writeFileSync(pub, 'hello\n', { mode: 0o644 })
  writeFileSync(priv, 'secret\n', { mode: 0o600 })
  chmodSync(pub, 0o644)
  const lines = MODES.map((mode) => {
    const run = runAsNobody(['hash', ...mode, pub, priv])
    assert.not.ok(crashed(run), run.stderr)
    assert.is(run.status, 2, `${mode.join(' ')}: ${run.stderr}`)
    assert.ok(run.stdout.includes(pub), run.stdout)
    const json = runAsNobody(['hash', ...mode, pub, priv, '--json'])
    assert.is(json.status, 2, json.stderr)
    const out = JSON.parse(json.stdout) as { files: Entry[] }
    assert.equal(out.files.map((e) => [e.ok, e.error?.code ?? null]), [[true, null], [false, 'EACCES']])
    return run.stderr
  })
  assert.is(lines[0], `blockcopy: EACCES: permission denied, open '${priv}'\n`)
  assert.is(lines[1], lines[0])
})

test('the same fault gets the same exit code in both modes: refused at open 2, failing at open (EIO) or while read 3', async () => {
  const cases: Array<[string, FaultRule, number]> = [
    ['EACCES at open', { op: 'open', path: 'bad.bin', errno: 'EACCES' }, 2],
    ['EIO at open', { op: 'open', path: 'bad.bin', errno: 'EIO' }, 3],
    ['EACCES while read', { op: 'read', path: 'bad.bin', offset: MiB, length: 4096, errno: 'EACCES' }, 3],
  ]
  const fault = await mountFaultFsIn(dir)
  if (typeof fault === 'string') return logSkip(fault)
  try {
    const good = join(fault.mountDir, 'good.bin')
    const bad = join(fault.mountDir, 'bad.bin')
    writeRandomFile(good, MiB + 1, 1)
    writeRandomFile(bad, 2 * MiB, 2)
    for (const [what, rule, code] of cases) {
      fault.setRules([rule])
      for (const mode of MODES) {
        const run = runCli(['hash', ...mode, bad, good, '--json'])
        assert.is(run.status, code, `${what}, ${mode.join(' ')}: ${run.stderr}`)
        const out = JSON.parse(run.stdout) as { files: Entry[] }
        assert.equal(out.files.map((e) => [e.ok, e.error?.code ?? null]), [[false, rule.errno], [true, null]], `${what}, ${mode.join(' ')}`)
      }
    }
  } finally {
    await fault.unmount()
  }
})

test.run()
