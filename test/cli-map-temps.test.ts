import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('the map\'s leftover temporary files: only blockcopy\'s own are removed, never a file the copy reads or writes')
const MiB = 1024 * 1024
let dir: string
let f: string
let map: string
/** A process id that no process has now: a process that has ended. */
let dead: number

test.before.each(() => {
  dir = makeTempDir('cli-map-temps')
  f = join(dir, 'f.img')
  map = join(dir, 'M')
  writeRandomFile(f, 2 * MiB + 7, 151)
  dead = spawnSync('true').pid as number
})
test.after.each(() => {
  removeTempDir(dir)
})

const copy = (args: string[]) => runCli(['copy', ...args, '--map', map, '--progress', 'none'])
const stale = () => join(dir, `M.tmp-${dead}`)

test('SRC named like a stale temporary file of the map: copied, and kept', () => {
  copyFileSync(f, stale())
  const d1 = join(dir, 'd1.img')
  const run = copy([stale(), d1])
  assert.is(run.status, 0, run.stderr)
  assert.ok(existsSync(stale()), 'SRC is still there')
  assert.ok(cmpFiles(f, stale()) && cmpFiles(f, d1))
})

test('SRC a copy of an old map, named like a stale temporary file of this one: kept, though it begins as a map does', () => {
  writeFileSync(join(dir, 'old.map'), '# Mapfile. Created by blockcopy (GNU ddrescue mapfile format)\n# current_pos  current_status  current_pass\n0x00000000     +               1\n')
  copyFileSync(join(dir, 'old.map'), stale())
  const run = copy([stale(), join(dir, 'd1.img')])
  assert.is(run.status, 0, run.stderr)
  assert.ok(existsSync(stale()) && cmpFiles(join(dir, 'old.map'), stale()))
})

test('DST named like a stale temporary file of the map: written, and kept', () => {
  const run = copy([f, stale()])
  assert.is(run.status, 0, run.stderr)
  assert.ok(existsSync(stale()), 'DST is still there')
  assert.ok(cmpFiles(f, stale()), 'and holds the copy')
})

test('a directory, a symlink, or a file blockcopy did not write, named so: each kept, and the copy goes on', () => {
  const pids = [dead, spawnSync('true').pid as number, spawnSync('true').pid as number]
  mkdirSync(join(dir, `M.tmp-${pids[0]}`))
  // A link to a file that begins as a map does: neither it nor what it names goes.
  writeFileSync(join(dir, 'target'), '# Mapfile. Created by blockcopy (GNU ddrescue mapfile format)\n')
  symlinkSync('target', join(dir, `M.tmp-${pids[1]}`))
  writeFileSync(join(dir, `M.tmp-${pids[2]}`), 'notes of mine')
  const run = copy([f, join(dir, 'd.img')])
  assert.is(run.status, 0, run.stderr)
  assert.not.match(run.stderr, /\bat \w/, 'no stack trace')
  assert.ok(lstatSync(join(dir, `M.tmp-${pids[0]}`)).isDirectory())
  assert.is(readlinkSync(join(dir, `M.tmp-${pids[1]}`)), 'target')
  assert.ok(existsSync(join(dir, 'target')))
  assert.is(readFileSync(join(dir, `M.tmp-${pids[2]}`), 'utf8'), 'notes of mine')
  assert.ok(cmpFiles(f, join(dir, 'd.img')))
})

test.run()
