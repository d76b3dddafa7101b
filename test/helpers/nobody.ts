import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { chmodSync, chownSync, copyFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cliArgs, ROOT } from './cli.js'
import { hasProgram } from './mounts.js'
import { isRoot } from './root.js'
import { makeTempDir, tempBase } from './tmp.js'

// Tests of what only matters for a user other than root run the CLI as
// nobody (uid and gid 65534, no groups) through setpriv, on files root
// makes for them: readable by everyone, or nobody's own.

/** nobody's uid and gid. */
export const NOBODY = 65534

const SETPRIV = ['--reuid=65534', '--regid=65534', '--clear-groups']

/** Runs argv as nobody from the repository, to its end; `setpriv` adds to setpriv's own options (capabilities). */
function asNobody(argv: string[], env: NodeJS.ProcessEnv = {}, setpriv: string[] = []): SpawnSyncReturns<string> {
  return spawnSync('setpriv', [...SETPRIV, ...setpriv, ...argv], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } })
}

/** Why the as-nobody tests cannot run here (a line for logSkip), or null. */
export function skipUnlessNobody(): string | null {
  if (!isRoot()) return 'needs root: runs the CLI as the user nobody (setpriv)'
  if (!hasProgram('setpriv')) return 'needs setpriv to run commands as nobody (apt-get install util-linux)'
  if (asNobody(['test', '-x', tempBase()]).status !== 0) {
    return `nobody cannot enter the test directory ${tempBase()} (set BLOCKCOPY_TEST_TMPDIR to one every user can)`
  }
  return null
}

let entry: string[] | undefined

/**
 * The arguments after node that run the CLI for nobody: from source, as
 * test/helpers/cli.ts runs it, where nobody can read the repository and its
 * node_modules; else a bundle (scripts/bundle.mjs) in a directory of its
 * own with what it loads at run time: the addon, xxh3.wasm and piscina.
 */
function nobodysCli(): string[] {
  if (entry) return entry
  if (asNobody([process.execPath, ...cliArgs(['--version'])]).status === 0) {
    entry = cliArgs([])
    return entry
  }
  const dir = makeTempDir('nobody-cli')
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'blockcopy', type: 'module' }))
  mkdirSync(join(dir, 'build', 'Release'), { recursive: true })
  copyFileSync(join(ROOT, 'build', 'Release', 'blockcopy.node'), join(dir, 'build', 'Release', 'blockcopy.node'))
  mkdirSync(join(dir, 'native', 'wasm'), { recursive: true })
  copyFileSync(join(ROOT, 'native', 'wasm', 'xxh3.wasm'), join(dir, 'native', 'wasm', 'xxh3.wasm'))
  cpSync(join(ROOT, 'node_modules', 'piscina'), join(dir, 'node_modules', 'piscina'), { recursive: true })
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs'), join(dir, 'dist')], { encoding: 'utf8', timeout: 120_000 })
  if (built.status !== 0) throw new Error(`bundling the CLI for nobody failed:\n${built.stderr}`)
  spawnSync('chmod', ['-R', 'a+rX', dir])
  entry = [join(dir, 'dist', 'cli', 'blockcopy.js')]
  return entry
}

/**
 * Runs `blockcopy ARGS` as nobody to its end; `env` is added to this
 * process's environment, `setpriv` to setpriv's options (e.g. an ambient
 * capability, as a service is given one).
 */
export function runAsNobody(args: string[], env: NodeJS.ProcessEnv = {}, setpriv: string[] = []): SpawnSyncReturns<string> {
  return asNobody([process.execPath, ...nobodysCli(), ...args], env, setpriv)
}

/** A fresh temporary directory of root's that nobody may read and enter but not write (0755). */
export function rootsDir(prefix: string): string {
  const dir = makeTempDir(prefix)
  chmodSync(dir, 0o755)
  return dir
}

/** A new directory `name` in `parent` that belongs to nobody (0755). */
export function nobodysDir(parent: string, name: string): string {
  const dir = join(parent, name)
  mkdirSync(dir)
  chownSync(dir, NOBODY, NOBODY)
  return dir
}

/** Hands a file to nobody. */
export function giveToNobody(path: string): void {
  chownSync(path, NOBODY, NOBODY)
}

/** True when the output has a JavaScript stack trace or a worker's death in it: never a user's error. */
export function crashed(r: SpawnSyncReturns<string>): boolean {
  return /^\s+at .+[:(]/m.test(r.stderr) || /WORKER_FAILED|TypeError|ReferenceError/.test(r.stderr + r.stdout)
}
