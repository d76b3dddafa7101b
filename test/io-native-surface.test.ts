import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { ADDON_EXPORT_NAMES, ADDON_EXPORTS, missingExports } from '../src/io/addon-surface.js'
import { loadAddon } from '../src/io/native.js'

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..')

/** name -> 'function' | 'object', sorted by name. */
const sorted = (entries: Array<[string, string]>) => Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)))
const declared = sorted(ADDON_EXPORT_NAMES.map((name) => [name, ADDON_EXPORTS[name].type]))

/** The built addon's own exports, required afresh (not through the loader, which checks only what it needs). */
function builtExports(): Record<string, unknown> {
  const load = loadAddon()
  assert.ok(load.ok, load.ok ? '' : load.reason)
  return createRequire(join(root, 'package.json'))(load.ok ? load.path : '') as Record<string, unknown>
}

test('the built addon exports exactly the functions and objects the TypeScript table declares', () => {
  const addon = builtExports()
  const actual = sorted(Object.keys(addon).map((name) => [name, typeof addon[name]]))
  assert.equal(actual, declared)
})

test("native/addon.cpp registers exactly the table's names, functions as functions", () => {
  const source = readFileSync(join(root, 'native', 'addon.cpp'), 'utf8')
  const registered: Array<[string, string]> = []
  for (const m of source.matchAll(/exports\.Set\(\s*"([A-Za-z0-9_]+)"\s*,([^\n]*)/g)) {
    registered.push([m[1] as string, (m[2] as string).includes('Napi::Function::New') ? 'function' : 'object'])
  }
  assert.ok(registered.length > 0, 'no exports.Set("name", ...) line found in native/addon.cpp')
  const names = registered.map(([n]) => n)
  assert.equal(names.filter((n, i) => names.indexOf(n) !== i), [], 'a name is registered twice')
  assert.equal(sorted(registered), declared)
})

test('the check at load names an export the addon lacks', () => {
  const { loopStatus: _gone, constants: _alsoGone, ...stale } = builtExports()
  assert.equal(missingExports(stale), ['loopStatus', 'constants'])
  assert.equal(missingExports(builtExports()), [])
})

test.run()
