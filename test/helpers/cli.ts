import { spawn, spawnSync, type ChildProcessWithoutNullStreams, type SpawnSyncReturns } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The repository root: the CLI runs from here, where tsx resolves. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** node's arguments that run the TypeScript CLI with `args`. */
export const cliArgs = (args: string[]): string[] => ['--import', 'tsx', 'src/cli/bin.ts', ...args]

export interface CliOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
}

/** Runs `blockcopy ARGS` to its end. */
export function runCli(args: string[], o: CliOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, cliArgs(args), {
    cwd: ROOT, encoding: 'utf8', timeout: o.timeoutMs ?? 60_000, ...(o.env ? { env: { ...process.env, ...o.env } } : {}),
  })
}

/** Starts `blockcopy ARGS` and returns at once (for signals and kills). */
export function spawnCli(args: string[], o: CliOptions = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, cliArgs(args), { cwd: ROOT, ...(o.env ? { env: { ...process.env, ...o.env } } : {}) })
}
