import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { parseMap } from '../../src/journal/mapfile.js'

/** What one SIGKILL of a copy with a map cost. */
export interface Kill {
  /** Bytes the process had handed to write(2)/pwrite(2), every thread included (/proc/PID/io wchar). */
  writtenBytes: number
  /** Bytes the map gained as '+' in that run. */
  gainedBytes: number
  /** Written but not recorded as durable: what the next run copies again. */
  recopiedBytes: number
}

/** Bytes a map has as done ('+'). */
export function mapDoneBytes(map: string): number {
  if (!existsSync(map)) return 0
  return parseMap(readFileSync(map, 'utf8'), map).blocks.filter((b) => b.status === '+').reduce((n, b) => n + b.size, 0)
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))

/**
 * Runs `node ARGS` (a copy with `--map MAP`) `kills` times, each killed with
 * SIGKILL at a random moment up to `maxDelayMs` after it saved its map (so
 * after it started writing); a run that ends first is not killed.
 */
export async function killLoop(o: { args: string[]; map: string; kills: number; maxDelayMs: number; cwd?: string }): Promise<Kill[]> {
  const out: Kill[] = []
  for (let i = 0; i < o.kills; i++) {
    const before = mapDoneBytes(o.map)
    const spawned = Date.now()
    const child = spawn(process.execPath, o.args, { cwd: o.cwd, stdio: 'ignore' })
    let ended = false
    const exited = new Promise<void>((done) => child.on('exit', () => done()))
    void exited.then(() => (ended = true))
    const saved = () => existsSync(o.map) && statSync(o.map).mtimeMs >= spawned
    for (let waited = 0; !ended && !saved() && waited < 20_000; waited += 10) await sleep(10)
    await sleep(Math.random() * o.maxDelayMs)
    let written = 0
    try {
      written = Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${child.pid as number}/io`, 'utf8'))?.[1] ?? 0)
      child.kill('SIGKILL')
    } catch {
      // It had already finished.
    }
    await exited
    const gained = mapDoneBytes(o.map) - before
    // The map's own saves are a few hundred bytes each.
    out.push({ writtenBytes: written, gainedBytes: gained, recopiedBytes: Math.max(0, written - gained - 64 * 1024) })
  }
  return out
}
