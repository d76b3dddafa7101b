import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { runCli } from './helpers/cli.js'
import { mountExt4 } from './helpers/mounts.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

/*
 * ext4 mounted with data=journal opens files O_DIRECT and then quietly
 * goes through the page cache; statx says so with a DIOALIGN of 0. Such a
 * file has no direct I/O: --direct always is refused before anything is
 * created, auto copies through the cache and says so, caps says why.
 */
const test = suite('a file system that opens O_DIRECT but does no direct I/O is not taken for one that does')
const MiB = 1024 * 1024
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2 })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('direct-unreported')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('ext4 data=journal: --direct always refused with nothing created; auto copies buffered and byte-exact; caps says why', async () => {
  const fs = await mountExt4(join(dir, 'e4.img'), join(dir, 'mnt'), 64 * MiB, ['data=journal'])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, 3 * MiB + 5, 61)
    const dst = join(fs.dir, 'dst.img')
    const always = runCli(['copy', src, dst, '--direct', 'always'])
    assert.is(always.status, 2, always.stderr)
    assert.match(always.stderr, /NO_SUPPORT: --direct: always was asked, but .*dst\.img/)
    assert.not.ok(existsSync(dst), 'nothing created')
    const r = await client.copy({ path: src }, [{ path: dst }], { direct: 'auto', verify: 'readback' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.direct.dests[0], false, 'the destination is not reported as direct')
    assert.ok(cmpFiles(src, dst))
    const caps = runCli(['caps', dst, '--json'])
    assert.is(caps.status, 0, caps.stderr)
    const c = (JSON.parse(caps.stdout) as Array<{ direct: { supported: boolean; reason?: string } }>)[0]
    assert.is(c?.direct.supported, false)
    assert.match(c?.direct.reason ?? '', /opens O_DIRECT but does no direct I\/O for this file \(statx DIOALIGN is 0\)/)
  } finally {
    await fs.unmount()
  }
})

test.run()
