import { spawnSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CopyResult } from '../src/index.js'
import { cliArgs, ROOT } from './helpers/cli.js'
import { hasProgram } from './helpers/mounts.js'
import { withImageFs } from './helpers/native.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

/*
 * A clone job whose task fails on one range after cloning others must say
 * what it did clone. The kernel refuses a clone that would take the
 * destination past the caller's file size limit (RLIMIT_FSIZE: EFBIG; Node
 * ignores the SIGXFSZ that comes with it), so the command runs under
 * `prlimit --fsize`: of two ranges in one task, the one that lands past the
 * limit fails and the other is cloned.
 */
const test = suite('a clone that fails part-way reports what it cloned, in the destination\'s offsets as its errors')
const KiB = 1024
const MiB = 1024 * KiB
const LIMIT = 4 * MiB
let dir: string

test.before.each(() => {
  dir = makeTempDir('replicate-clone-report')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** `blockcopy ARGS` with the file size limit at LIMIT bytes. */
function limited(args: string[]) {
  return spawnSync('prlimit', [`--fsize=${LIMIT}`, process.execPath, ...cliArgs(args)], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
}

for (const verify of ['none', 'readback', 'hash'] as const) {
  test(`one range cloned, one past the file size limit (verify ${verify}): completed is the cloned range, the error the other`, () =>
    withImageFs(dir, 'xfs', (mnt) => {
      if (!hasProgram('prlimit')) return logSkip('prlimit is not installed (apt-get install util-linux)')
      const src = join(mnt.dir, 'src.img')
      const dst = join(mnt.dir, 'dst.img')
      writeRandomFile(src, MiB, 1)
      const ranges = ['--range', '0:64KiB:128KiB', '--range', '128KiB:8MiB:64KiB']
      const json = limited(['replicate', src, dst, ...ranges, '--type', 'clone', '--verify', verify, '--json', '--progress', 'none'])
      assert.is(json.status, 3, json.stderr)
      const r = JSON.parse(json.stdout) as CopyResult
      assert.is(r.method, 'clone')
      assert.equal(r.errors.map((e) => [e.dest, e.offset, e.length, e.code]), [[0, 8 * MiB, 64 * KiB, 'EFBIG']])
      // What was cloned, in DST's offsets, as the error is: not "0 B".
      assert.equal(r.completed, [{ offset: 64 * KiB, length: 128 * KiB }])
      assert.is(r.completedBytes, 128 * KiB)
      assert.is(statSync(dst).size, 192 * KiB)
      assert.ok(readFileSync(dst).subarray(64 * KiB).equals(readFileSync(src).subarray(0, 128 * KiB)))

      // The text says it in words.
      const text = limited(['replicate', src, join(mnt.dir, 'dst2.img'), ...ranges, '--type', 'clone', '--verify', verify, '--progress', 'none'])
      assert.is(text.status, 3, text.stderr)
      assert.match(text.stdout, /^cloned 128\.00 KiB of 192\.00 KiB from /m)
      assert.match(text.stdout, /^cloned into .*dst2\.img: bytes 65536\.\.196608$/m)
      assert.match(text.stdout, /^error: destination 1 .*bytes 8388608\.\.8454144 not written \[EFBIG from ioctl\]$/m)
    }))
}

test.run()
