import fs from 'node:fs'
import nodePath from 'node:path'

/** Capabilities that pass file permissions (linux/capability.h): writes, and the sticky bit. */
const CAP_DAC_OVERRIDE = 1n
const CAP_FOWNER = 3n
/** The sticky bit of a mode (sys/stat.h); node:fs does not export it. */
const S_ISVTX = 0o1000

let capEff: bigint | null | undefined

/** The process's effective capabilities (/proc/self/status CapEff), or null when they cannot be read. */
function effectiveCaps(): bigint | null {
  if (capEff === undefined) {
    try {
      const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
      capEff = line?.[1] ? BigInt(`0x${line[1]}`) : null
    } catch {
      capEff = null
    }
  }
  return capEff
}

const has = (caps: bigint, cap: bigint) => ((caps >> cap) & 1n) === 1n

/**
 * Whether access(2)'s EACCES holds for this process. access() judges by the
 * real uid and gid, and for a real uid other than root it drops every
 * capability: a service that runs as a user with CAP_DAC_OVERRIDE (systemd
 * AmbientCapabilities) is told EACCES for files it can write. So EACCES is
 * this process's own answer only when the real ids are the effective ones
 * and, unless the real uid is root (whose access() keeps its capabilities),
 * the process has no CAP_DAC_OVERRIDE in effect. When that cannot be read
 * (no /proc), it is not trusted and the write itself decides.
 */
export function accessAnswersForUs(): boolean {
  if (!process.getuid || !process.geteuid || !process.getgid || !process.getegid) return false
  if (process.getuid() !== process.geteuid() || process.getgid() !== process.getegid()) return false
  if (process.getuid() === 0) return true
  const caps = effectiveCaps()
  return caps !== null && !has(caps, CAP_DAC_OVERRIDE)
}

/**
 * Why rename(2) may not replace the existing `file` (its links followed by the caller)
 * with a new file beside it, as manifests and maps are saved: in a sticky
 * directory (/tmp) only the owner of the entry or of the directory, or a
 * process with CAP_FOWNER, may replace it (EPERM). A sentence, or null.
 */
export function stickyRefusal(given: string): string | null {
  const file = nodePath.resolve(given)
  let st: fs.Stats
  let dir: fs.Stats
  const dirPath = nodePath.dirname(file)
  try {
    st = fs.statSync(file)
    dir = fs.statSync(dirPath)
  } catch {
    return null
  }
  if ((dir.mode & S_ISVTX) === 0) return null
  const uid = process.geteuid?.()
  if (uid === undefined || st.uid === uid || dir.uid === uid) return null
  const caps = effectiveCaps()
  if (caps === null || has(caps, CAP_FOWNER)) return null
  return `${file} belongs to another user (uid ${st.uid}) in the sticky directory ${dirPath}, where only its owner may replace it (EPERM)`
}
