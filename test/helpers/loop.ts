import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { basename } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))

/** How attachLoop sets up the device. */
export interface AttachLoopOptions {
  /** Attach read-only (`losetup -r`): writes fail with EROFS or EPERM. */
  readOnly?: boolean
  /** Logical sector size in bytes (`losetup -b`), e.g. 4096; default 512. */
  sectorBytes?: number
  /** Let the loop driver use O_DIRECT on the backing file (`--direct-io=on`). */
  directIo?: boolean
  /** The byte of the file that is the device's byte 0 (`losetup -o`). */
  offsetBytes?: number
  /** Let partitions be added to the device (`losetup -P`), e.g. with addpart. */
  partitions?: boolean
}

/** stderr of a failed child process, or its message. */
function stderrOf(err: unknown): string {
  const e = err as { stderr?: string; message?: string }
  return (e.stderr?.trim() || e.message) ?? String(err)
}

/** Attaches file to the first free loop device (needs root); returns '/dev/loopN'. */
export async function attachLoop(file: string, options: AttachLoopOptions = {}): Promise<string> {
  const args = ['-f', '--show']
  if (options.readOnly) args.push('-r')
  if (options.sectorBytes !== undefined) args.push('-b', String(options.sectorBytes))
  if (options.directIo) args.push('--direct-io=on')
  if (options.offsetBytes !== undefined) args.push('-o', String(options.offsetBytes))
  if (options.partitions) args.push('-P')
  // Two tests racing for the same free device make one losetup fail; retry.
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout } = await run('losetup', [...args, file])
      return stdout.trim()
    } catch (err) {
      if (attempt >= 5) throw new Error(`losetup ${args.join(' ')} ${file} failed: ${stderrOf(err)}`)
      await sleep(100 * attempt)
    }
  }
}

/**
 * Detaches a loop device and waits until the kernel has let go of its backing
 * file. Retries while the device is busy (a closing descriptor, a probe).
 */
export async function detachLoop(device: string): Promise<void> {
  const sysDir = `/sys/block/${basename(device)}/loop`
  for (let attempt = 1; ; attempt++) {
    try {
      await run('losetup', ['-d', device])
      break
    } catch (err) {
      const why = stderrOf(err)
      if (!existsSync(sysDir)) return
      if (!/busy/i.test(why) || attempt >= 20) throw new Error(`losetup -d ${device} failed: ${why}`)
      await sleep(100)
    }
  }
  // A device still open elsewhere is only marked autoclear; wait for the clear.
  for (let waited = 0; existsSync(sysDir) && waited < 2000; waited += 50) await sleep(50)
}
