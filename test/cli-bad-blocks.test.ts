import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy copy --ignore-errors --map, then --retry-bad')
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-bad-blocks')
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(args)

test('a bad block: exit 3, said in words at its offset, the map saved, and the printed --retry-bad command finishes the copy once it reads', async () => {
  const fault = await mountFaultFsIn(dir, [])
  if (typeof fault === 'string') return logSkip(fault)
  try {
    const bad = 5 * MiB + 4096
    writeRandomFile(join(fault.backingDir, 'src.img'), 8 * MiB, 3)
    fault.setRules([{ op: 'read', path: 'src.img', offset: bad, length: 512, errno: 'EIO' }])
    const src = join(fault.mountDir, 'src.img')
    const dst = join(dir, 'dst.img')
    const map = join(dir, 'copy.map')
    const first = cli(['copy', src, dst, '--ignore-errors', '--map', map, '--fill-bad', 'zero', '--progress', 'none'])
    assert.is(first.status, 3, first.stderr)
    assert.match(first.stdout, new RegExp(`^error: source \\(${src}\\) had an I/O error \\(the device may be failing\\): bytes ${bad}\\.\\.${bad + 512} not read \\[EIO from pread\\]$`, 'm'))
    assert.match(first.stdout, /^map .*copy\.map: 8\.00 MiB done, 0 B left, 512 B bad$/m)
    const hint = /to read them again: (blockcopy copy .*)$/m.exec(first.stderr)
    assert.ok(hint, first.stderr)

    fault.setRules([])
    const args = (hint?.[1] as string).split(' ').slice(1)
    assert.ok(args.includes('--retry-bad'))
    const again = cli(args)
    assert.is(again.status, 0, again.stderr + again.stdout)
    assert.ok(cmpFiles(join(fault.backingDir, 'src.img'), dst), 'byte-exact')
    const bad2 = cli(['copy', src, dst, '--fill-bad', 'ones'])
    assert.is(bad2.status, 2)
    assert.match(bad2.stderr, /--fill-bad/)
  } finally {
    await fault.unmount()
  }
})

test.run()
