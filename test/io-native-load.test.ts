import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { FsBackend, loadBackend, NativeBackend } from '../src/io/index.js'
import { findPackageRoot, loadAddon, loadNativeBackend } from '../src/io/native.js'

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..')

/** Runs a module snippet in a fresh `node --import tsx` with extra env; returns its output. */
function runChild(code: string, env: Record<string, string>): { stdout: string; stderr: string; status: number | null } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root, env: { ...process.env, ...env }, encoding: 'utf8',
  })
  return { stdout: run.stdout, stderr: run.stderr, status: run.status }
}

test('the package root is found by walking up from src/io', () => {
  assert.is(findPackageRoot(join(root, 'src', 'io')), root)
  assert.ok(existsSync(join(root, 'build', 'Release', 'blockcopy.node')), 'run node scripts/build-native.mjs first')
})

test('the native addon loads and its backend reports kind native', () => {
  const load = loadAddon()
  assert.ok(load.ok, load.ok ? '' : load.reason)
  const backend = loadNativeBackend()
  assert.instance(backend, NativeBackend)
  assert.equal((backend as NativeBackend).info, { kind: 'native' })
})

test('loadBackend returns the same native backend on every call in a thread', () => {
  const first = loadBackend()
  assert.is(first.info.kind, 'native')
  assert.is(loadBackend(), first)
})

test("prefer: 'fs' gives the fs backend with a reason even though the addon loads", () => {
  const backend = loadBackend({ prefer: 'fs' })
  assert.instance(backend, FsBackend)
  assert.is(backend.info.kind, 'fs')
  assert.type(backend.info.reason, 'string')
})

test('BLOCKCOPY_IO=fs makes loadNativeBackend answer with that reason', () => {
  const saved = process.env.BLOCKCOPY_IO
  process.env.BLOCKCOPY_IO = 'fs'
  try {
    assert.is(loadNativeBackend(), 'BLOCKCOPY_IO=fs')
  } finally {
    if (saved === undefined) delete process.env.BLOCKCOPY_IO
    else process.env.BLOCKCOPY_IO = saved
  }
})

test('BLOCKCOPY_IO=fs selects the fs backend in a new process without a warning', () => {
  const code = `import { loadBackend } from './src/io/index.ts'
console.log(JSON.stringify(loadBackend().info))`
  const run = runChild(code, { BLOCKCOPY_IO: 'fs' })
  assert.is(run.status, 0, run.stderr)
  assert.equal(JSON.parse(run.stdout), { kind: 'fs', reason: 'BLOCKCOPY_IO=fs' })
  assert.not.match(run.stderr, 'BLOCKCOPY_NO_NATIVE')
})

test('a new process loads the native backend without printing anything', () => {
  const code = `import { loadBackend } from './src/io/index.ts'
console.log(JSON.stringify(loadBackend().info))`
  const run = runChild(code, { BLOCKCOPY_IO: '' })
  assert.is(run.status, 0, run.stderr)
  assert.equal(JSON.parse(run.stdout), { kind: 'native' })
  assert.is(run.stderr, '')
})

test.run()
