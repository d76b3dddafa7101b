// The bundled command line (scripts/bundle.mjs: what bin/blockcopy.js runs
// after `npm run build`) does what the CLI from source does: it finds its
// workers, and they find the addon and the xxh3 module from a bundle.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { ROOT, runCli } from './helpers/cli.js'
import { withTempDir } from './helpers/native.js'
import { cmpFiles, readRange, writeRandomFile } from './helpers/tmp.js'

const MiB = 1024 * 1024

/** Bundles into a fresh folder inside the package (the addon is found from its root), runs fn, removes it. */
async function withBundle(fn: (cli: string) => Promise<void> | void): Promise<void> {
  const out = mkdtempSync(join(ROOT, '.bundle-test-'))
  try {
    const built = spawnSync(process.execPath, ['scripts/bundle.mjs', out], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
    assert.is(built.status, 0, `bundle failed:\n${built.stderr}`)
    await fn(join(out, 'cli', 'blockcopy.js'))
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

function run(cli: string, args: string[]) {
  return spawnSync(process.execPath, [cli, ...args, '--progress', 'none'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
}

function json(r: { status: number | null; stdout: string; stderr: string }): Record<string, unknown> {
  assert.ok(r.stdout.trim() !== '', `no JSON on stdout (exit ${r.status}):\n${r.stderr}`)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

test('the bundled CLI copies through its workers with the addon, hashes and verifies like the CLI from source', async () => {
  await withTempDir('bundle', async (dir) => {
    const src = join(dir, 'src.img')
    const dst = join(dir, 'dst.img')
    writeRandomFile(src, 6 * MiB + 4097, 41)
    await withBundle((cli) => {
      const copy = json(run(cli, ['copy', src, dst, '--verify', 'readback', '--json']))
      assert.is(copy.ok, true, JSON.stringify(copy))
      assert.equal(copy.io, { kind: 'native' })
      // The workers read and wrote the aligned middle with O_DIRECT: they loaded the addon.
      assert.ok((copy.directBytes as number) >= 2 * 6 * MiB, `directBytes ${String(copy.directBytes)}`)
      assert.ok(cmpFiles(src, dst), 'the copy differs from its source')

      const bundled = json(run(cli, ['hash', src, '--json']))
      const fromSource = json(runCli(['hash', src, '--json', '--progress', 'none']))
      const root = (r: Record<string, unknown>) => (r.files as Array<{ root?: string }>)[0]?.root
      assert.type(root(bundled), 'string')
      assert.is(root(bundled), root(fromSource))

      assert.is(run(cli, ['verify', src, dst]).status, 0)
      const at = 5 * MiB + 17
      const byte = readRange(dst, at, 1)
      byte[0] = (byte[0] ?? 0) ^ 0xff
      const fd = spawnSync('dd', [`of=${dst}`, 'bs=1', `seek=${at}`, 'conv=notrunc', 'status=none'], { input: byte })
      assert.is(fd.status, 0)
      const differs = run(cli, ['verify', src, dst, '--json'])
      assert.is(differs.status, 1, differs.stderr)
      assert.match(differs.stdout, new RegExp(`"offset":${at},"length":1\\b`))
    })
  })
})

test.run()
