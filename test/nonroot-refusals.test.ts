// What a user other than root may not do is refused before anything is
// read, created or written, by name: the path, the flag, the permission;
// exit 2, never a stack trace. And what it may do (its own jobs, a bench in
// its own directory) works.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { crashed, nobodysDir, rootsDir, runAsNobody, skipUnlessNobody } from './helpers/nobody.js'
import { logSkip } from './helpers/root.js'
import { removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('refusals and own work as a user other than root')
const MiB = 1024 * 1024
let dir: string
/** root's, 0644. */
let src: string
/** nobody's own directory. */
let mine: string

test.before.each(() => {
  dir = rootsDir('nonroot-refusals')
  src = join(dir, 'src.img')
  writeRandomFile(src, 3 * MiB + 5, 71)
  mine = nobodysDir(dir, 'mine')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Runs the CLI as nobody, checks it did not crash, and that it exited `status`. */
function nobody(args: string[], status: number, env: NodeJS.ProcessEnv = {}) {
  const run = runAsNobody([...args, ...(['jobs', 'bench'].includes(args[0] ?? '') ? [] : ['--progress', 'none'])], env)
  assert.not.ok(crashed(run), `crashed:\n${run.stderr}`)
  assert.is(run.status, status, `exit ${String(run.status)}, not ${status}:\n${run.stdout}${run.stderr}`)
  return run
}

/** The names in a directory, for "nothing was created". */
const names = (d: string) => readdirSync(d).sort()

test('hash -o where nobody cannot save it is refused before anything is read, naming the directory and EACCES or the sticky bit', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const before = names(dir)
  const run = nobody(['hash', src, '-o', join(dir, 'src.bcm')], 2)
  assert.match(run.stderr, /INVALID_ARGUMENT: -o: .*src\.bcm is written in .*nonroot-refusals-\w+ and renamed into place, but that directory cannot be written \(EACCES\)/)
  assert.equal(names(dir), before)
  // A world-writable sticky directory (/tmp): rename may not replace another user's file there.
  const sticky = join(dir, 'sticky')
  mkdirSync(sticky)
  chmodSync(sticky, 0o1777)
  const theirs = join(sticky, 'src.bcm')
  writeFileSync(theirs, 'root\'s')
  const over = nobody(['hash', src, '-o', theirs], 2)
  assert.match(over.stderr, /-o: .*sticky\/src\.bcm belongs to another user \(uid 0\) in the sticky directory .*sticky, where only its owner may replace it \(EPERM\)/)
  assert.is(readFileSync(theirs, 'utf8'), 'root\'s')
  assert.equal(names(sticky), ['src.bcm'])
})

test('copy, zero and replicate into what nobody cannot write: refused by DST, path and permission, nothing created', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const before = names(dir)
  const created = nobody(['copy', src, join(mine, 'ok.img'), join(dir, 'new.img')], 2)
  assert.match(created.stderr, /EACCES: DST 2: .*new\.img cannot be created in .*nonroot-refusals-\w+ \(permission denied to this user\)/)
  assert.not.ok(existsSync(join(mine, 'ok.img')), 'the first destination is not left behind')
  const written = nobody(['copy', join(mine, '..', 'src.img'), src], 2)
  assert.match(written.stderr, /EACCES: DST: .*src\.img cannot be written \(permission denied to this user\)/)
  const zero = nobody(['zero', src], 2)
  assert.match(zero.stderr, /EACCES: DST: .*src\.img cannot be written \(permission denied to this user\)/)
  const replicate = nobody(['replicate', src, src, '--range', '0:1MiB:4096', '--type', 'copy'], 2)
  assert.match(replicate.stderr, /EACCES: .*src\.img/)
  assert.equal(names(dir), before)
})

test('--map and --since where nobody cannot save them are refused before the destination is created', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const dst = join(mine, 'dst.img')
  const map = nobody(['copy', src, dst, '--map', join(dir, 'copy.map')], 2)
  assert.match(map.stderr, /INVALID_ARGUMENT: --map: .*copy\.map is saved by writing in .*nonroot-refusals-\w+, which cannot be written \(EACCES\)/)
  // A manifest of root's, in root's directory: nobody can read it, but not replace it.
  assert.is(runCli(['copy', src, join(dir, 'base.img')]).status, 0)
  assert.is(runCli(['hash', join(dir, 'base.img'), '-o', join(dir, 'base.bcm')]).status, 0)
  const since = nobody(['copy', src, dst, '--since', join(dir, 'base.bcm')], 2)
  assert.match(since.stderr, /INVALID_ARGUMENT: --since: the next manifest is written in .*nonroot-refusals-\w+ and renamed over .*base\.bcm, but that directory cannot be written \(EACCES\)/)
  // In a sticky directory nobody can write (/tmp), root's files are not nobody's to replace.
  const sticky = join(dir, 'sticky')
  mkdirSync(sticky)
  chmodSync(sticky, 0o1777)
  writeFileSync(join(sticky, 'copy.map'), '# root\'s\n')
  const stickyMap = nobody(['copy', src, dst, '--map', join(sticky, 'copy.map')], 2)
  assert.match(stickyMap.stderr, /--map: .*copy\.map is saved by renaming a new file over it, but .*copy\.map belongs to another user \(uid 0\) in the sticky directory .*sticky, where only its owner may replace it \(EPERM\)/)
  assert.is(runCli(['hash', join(dir, 'base.img'), '-o', join(sticky, 'base.bcm')]).status, 0)
  const stickySince = nobody(['copy', src, dst, '--since', join(sticky, 'base.bcm')], 2)
  assert.match(stickySince.stderr, /--since: the next manifest is renamed over .*sticky\/base\.bcm, but .*base\.bcm belongs to another user \(uid 0\) in the sticky directory/)
  assert.equal(names(mine), [])
  assert.equal(names(sticky), ['base.bcm', 'copy.map'])
})

test('a service with CAP_DAC_OVERRIDE is not refused what access() denies its user', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  // As systemd's AmbientCapabilities gives it: nobody, and past file permissions.
  const caps = ['--inh-caps=+dac_override', '--ambient-caps=+dac_override']
  const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...caps, 'true'], { encoding: 'utf8' })
  if (probe.status !== 0) return logSkip(`setpriv cannot grant an ambient capability here: ${probe.stderr.trim()}`)
  const dst = join(dir, 'service.img')
  const run = runAsNobody(['copy', src, dst, '--progress', 'none'], {}, caps)
  assert.is(run.status, 0, run.stderr)
  assert.ok(existsSync(dst))
})

test('bench --target: nobody\'s own directory works and is left clean; one it cannot write is refused, exit 2', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const run = nobody(['bench', '--size', '2MiB', '--runs', '1', '--threads', '2', '--chunk', '1MiB', '--target', mine], 0)
  assert.match(run.stdout, /1\.00 MiB\s+2/)
  assert.equal(names(mine), [])
  const refused = nobody(['bench', '--size', '2MiB', '--runs', '1', '--target', dir], 2)
  assert.match(refused.stderr, /INVALID_ARGUMENT: --target: .*nonroot-refusals-\w+ cannot be written \(EACCES\)/)
})

test('jobs: nobody\'s state under its HOME or BLOCKCOPY_STATE_DIR; a state directory or job of another user is named, exit 2', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  const home = nobodysDir(dir, 'home')
  const started = nobody(['copy', src, join(mine, 'bg.img'), '--detach'], 0, { HOME: home, XDG_STATE_HOME: '' })
  const id = started.stdout.trim()
  const waited = nobody(['jobs', 'wait', id], 0, { HOME: home, XDG_STATE_HOME: '' })
  assert.match(waited.stdout, new RegExp(`${id}: complete, 100%`))
  assert.ok(existsSync(join(home, '.local', 'state', 'blockcopy', `${id}.json`)))
  assert.match(nobody(['jobs'], 0, { HOME: home, XDG_STATE_HOME: '' }).stdout, new RegExp(`${id}\\s+complete`))

  const state = { BLOCKCOPY_STATE_DIR: join(dir, 'state') }
  const refused = nobody(['copy', src, join(mine, 'bg2.img'), '--detach'], 2, state)
  assert.match(refused.stderr, /--detach: the job state directory .*state cannot be used \(EACCES\)/)
  // root's jobs, in a directory only root can read.
  mkdirSync(state.BLOCKCOPY_STATE_DIR, { mode: 0o700 })
  const list = nobody(['jobs'], 2, state)
  assert.match(list.stderr, /EACCES: the job state directory .*state cannot be read: permission denied, scandir '.*state'; set BLOCKCOPY_STATE_DIR to use another/)
  // root's running job: nobody may see it, not cancel or free it.
  chmodSync(state.BLOCKCOPY_STATE_DIR, 0o755)
  const theirs = runCli(['copy', src, join(dir, 'slow.img'), '--detach', '--rate', '64KiB', '--chunk', '64KiB'], { env: state })
  assert.is(theirs.status, 0, theirs.stderr)
  const rootsJob = theirs.stdout.trim()
  try {
    nobody(['jobs', 'status', rootsJob], 0, state)
    const cancel = nobody(['jobs', 'cancel', rootsJob], 2, state)
    assert.match(cancel.stderr, new RegExp(`EPERM: ID: job ${rootsJob} \\(pid \\d+\\) cannot be cancelled by this user: it runs as another user`))
  } finally {
    runCli(['jobs', 'cancel', rootsJob], { env: state })
    runCli(['jobs', 'wait', rootsJob], { env: state })
  }
  const free = nobody(['jobs', 'free', rootsJob], 2, state)
  assert.match(free.stderr, new RegExp(`EACCES: ID: job ${rootsJob} cannot be freed: permission denied, unlink '.*${rootsJob}\\.json'`))
})

test.run()
