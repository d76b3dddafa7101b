import fs from 'node:fs'
import path from 'node:path'
import { BlockcopyError, SystemError, toSystemError } from '../errors.js'
import { loadBackend } from '../io/index.js'
import { writeRefusal } from '../files/regions.js'
import { HeldLock, lockPathOf } from '../io/lockfile.js'
import { stickyRefusal } from '../io/access.js'
import { readManifest, writeManifest, type Manifest } from '../hash/manifest.js'

const bad = (why: string) => new BlockcopyError('INVALID_ARGUMENT', `--since: ${why}`, 'since')

/**
 * The manifest file of `copy --since M`, held for one run. Two runs on one
 * manifest at once would each write a manifest of its own chunks only, and
 * the later one would call the earlier one's chunks unchanged: every run
 * after that would skip them, and report success over a destination that
 * differs. So a run takes M.lock (flock, removed as it lets go) before it
 * reads M, and keeps it until the next manifest is written.
 */
export class SinceFile {
  private constructor(
    /** M with its symlinks resolved: the next manifest replaces the file, not a link to it. */
    readonly path: string,
    readonly manifest: Manifest,
    // Let go as the run ends; a second Ctrl-C exits at once (src/cli/common.ts), and the lock file goes with the process all the same.
    private readonly lock: HeldLock | null,
  ) {}

  /**
   * Checks M before anything is created: it exists, is a regular file, and
   * its directory, where the next manifest is written and renamed over it,
   * can be written. (That neither M nor the files beside it are SRC or a
   * DST by any name, src/cli/paths.ts checks first.) Then takes the lock and
   * reads M. The lock file is all it creates, and release() removes it.
   */
  static async open(file: string): Promise<SinceFile> {
    if (!fs.existsSync(file)) throw new BlockcopyError('NOT_FOUND_VOLUME', `--since: ${file} does not exist; make it from the destination with blockcopy hash DST -o ${file}`, 'since')
    const real = fs.realpathSync(file)
    const st = fs.statSync(real)
    if (!st.isFile()) throw bad(`${file} is not a regular file (a manifest is one, written by blockcopy hash DST -o ${file})`)
    const dir = path.dirname(real)
    const refused = writeRefusal(dir)
    if (refused) throw bad(`the next manifest is written in ${dir} and renamed over ${real}, but that directory cannot be written (${refused.code})`)
    const sticky = stickyRefusal(real)
    if (sticky) throw bad(`the next manifest is renamed over ${real}, but ${sticky}`)
    const io = loadBackend()
    let lock: HeldLock | null = null
    if (io.tryLock) {
      const tryLock = io.tryLock.bind(io)
      try {
        lock = HeldLock.take(lockPathOf(real), tryLock)
      } catch (err) {
        throw bad(`the lock file ${lockPathOf(real)} cannot be used (${toSystemError(err, 'open', lockPathOf(real)).code})`)
      }
      if (lock === null) throw bad(`${file} is in use by another copy (${lockPathOf(real)} is locked): one incremental copy at a time per manifest`)
    } else {
      process.stderr.write(`blockcopy: --since: ${file} cannot be locked without the native addon (${io.info.reason ?? 'not loaded'}); run one copy at a time with it\n`)
    }
    try {
      return new SinceFile(real, await readManifest(real), lock)
    } catch (err) {
      lock?.release()
      throw err
    }
  }

  /** Writes `m` durably in place of M; a failure is a SystemError naming M. */
  async write(m: Manifest): Promise<void> {
    try {
      await writeManifest(this.path, m)
    } catch (err) {
      const e = toSystemError(err, 'write', this.path)
      throw new SystemError(`${e.code}: --since: cannot write the manifest ${this.path}: ${e.message.replace(`${e.code}: `, '')}`, e.code, e.errno, e.syscall, this.path)
    }
  }

  /** Lets go of the lock and removes the lock file. */
  release(): void {
    this.lock?.release()
  }
}
