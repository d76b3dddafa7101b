import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

import { ROOT } from './helpers/cli.js'
import { MKFS_PACKAGES } from './helpers/mounts.js'

/*
 * The README's front door: how to run the command after `npm install`, and
 * the one apt-get line of every package the suite uses. A test that skips
 * names the package it wants ("apt-get install PKG"); each of those must be
 * in the README's line and in what .ci/run installs, or a reader of the
 * README sets up a machine where tests skip that CI runs.
 */
const test = suite('the README says how to run blockcopy and names every package the tests want')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** The packages of the README's `apt-get install` line. */
function readmePackages(): Set<string> {
  const line = /^apt-get install ([a-z0-9 .+-]+)$/m.exec(README)
  assert.ok(line, 'the README has an apt-get install line')
  return new Set((line[1] as string).trim().split(/\s+/))
}

/** The packages .ci/run installs (its PACKAGES array). */
function ciPackages(): Set<string> {
  const run = readFileSync(join(ROOT, '.ci', 'run'), 'utf8')
  const list = /^PACKAGES=\(([^)]*)\)/m.exec(run)
  assert.ok(list, '.ci/run has a PACKAGES list')
  return new Set((list[1] as string).trim().split(/\s+/))
}

/** Every package a test or test helper names in a skip message: "apt-get install A B". */
function packagesTestsWant(): Set<string> {
  const files = [
    ...readdirSync(join(ROOT, 'test')).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, 'test', f)),
    ...readdirSync(join(ROOT, 'test', 'helpers')).map((f) => join(ROOT, 'test', 'helpers', f)),
  ]
  const wanted = new Set<string>(Object.values(MKFS_PACKAGES))
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\(apt-get install ([a-z0-9][a-z0-9 .+-]*)\)/g)) {
      for (const pkg of (m[1] as string).trim().split(/\s+/)) wanted.add(pkg)
    }
  }
  return wanted
}

test('every package a test skips without is in the README\'s apt-get line and in .ci/run', () => {
  const wanted = packagesTestsWant()
  // The scan finds the skip messages at all: FUSE's and xxhsum's are known to be there.
  for (const known of ['python3-pyfuse3', 'xxhash', 'xfsprogs', 'btrfs-progs', 'fiu-utils', 'time']) {
    assert.ok(wanted.has(known), `a test names ${known}`)
  }
  const readme = readmePackages()
  const ci = ciPackages()
  // Packages of a base Debian system (util-linux, e2fsprogs) need no line of their own.
  const base = new Set(['util-linux', 'e2fsprogs'])
  const missingReadme = [...wanted].filter((p) => !base.has(p) && !readme.has(p))
  const missingCi = [...wanted].filter((p) => !base.has(p) && !ci.has(p))
  assert.equal(missingReadme, [], `not in the README's apt-get line: ${missingReadme.join(' ')}`)
  assert.equal(missingCi, [], `not installed by .ci/run: ${missingCi.join(' ')}`)
  // And the README names nothing CI does not install.
  const extra = [...readme].filter((p) => !ci.has(p))
  assert.equal(extra, [], `in the README but not in .ci/run: ${extra.join(' ')}`)
})

test('in the checkout, `npx blockcopy` runs this package\'s own command, as the README says', () => {
  assert.match(README, /`npx blockcopy \.\.\.`/)
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> }
  assert.ok(pkg.bin.blockcopy, 'package.json has a blockcopy bin')
  // --offline: the answer must come from the checkout, never from the registry.
  const run = spawnSync('npx', ['--offline', 'blockcopy', '--version'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
  assert.is(run.status, 0, run.stderr)
  assert.is(run.stdout.trim(), pkg.version)
})

test.run()
