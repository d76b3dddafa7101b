import fs from 'node:fs'
import tty from 'node:tty'
import { SystemError } from '../errors.js'

/** How a message names standard input: what the user typed, and what it is. */
export const STDIN_SHOWN = '- (standard input)'

/**
 * Whether descriptor 0, described by `st`, is the /dev/null that node put in
 * place of a closed standard input. Before any script runs, node replaces a
 * closed descriptor 0 with /dev/null opened read-write (src/node.cc,
 * PlatformInit), where a shell's `< /dev/null` (and libuv's, Go's `ignore`)
 * opens it read-only: the access mode in /proc/self/fdinfo/0 tells them
 * apart. A parent that hands over /dev/null read-write itself (Python's
 * subprocess.DEVNULL) looks the same, and is told how to give no bytes.
 */
function closedAtStart(st: fs.Stats): boolean {
  try {
    if (!st.isCharacterDevice() || st.rdev !== fs.statSync('/dev/null').rdev) return false
    const flags = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/fdinfo/0', 'utf8'))?.[1]
    return flags !== undefined && (parseInt(flags, 8) & 0o3) === fs.constants.O_RDWR
  } catch {
    // Without /proc, nothing tells: a /dev/null is read, and has no bytes.
    return false
  }
}

/**
 * Standard input as `hash --xxhsum -` reads it, checked before a byte is
 * read; `argument` is how the command line names it (`FILE 2`).
 *
 * A closed one is EBADF and a directory EISDIR, both bad input as for a FILE
 * that cannot be read (xxhsum fails on them too): node would give either an
 * empty stream, and so the digest of no bytes. Pipes, sockets and terminals
 * are read as node reads them; anything else (a file, a block device, which
 * node also takes for empty) through the descriptor itself, from where it
 * stands, as `xxhsum - < FILE` does.
 */
export function standardInput(argument: string): AsyncIterable<Uint8Array> {
  let st: fs.Stats
  try {
    st = fs.fstatSync(0)
  } catch {
    // Not seen under node, which reopens a closed descriptor 0 (above); said the same way if it ever is.
    return refuse('EBADF', 9, `${argument}: ${STDIN_SHOWN} is closed: there is nothing to read; give < /dev/null for the digest of no bytes`)
  }
  if (closedAtStart(st)) {
    return refuse('EBADF', 9, `${argument}: ${STDIN_SHOWN} is closed (or is /dev/null opened read-write, which node puts in place of a closed one): there is nothing to read; give < /dev/null for the digest of no bytes`)
  }
  if (st.isDirectory()) return refuse('EISDIR', 21, `${argument}: ${STDIN_SHOWN} is a directory, which has no bytes to hash`)
  if (st.isFIFO() || st.isSocket() || tty.isatty(0)) return process.stdin
  // Not closed at the end: descriptor 0 belongs to the process, not to this stream.
  return fs.createReadStream('', { fd: 0, autoClose: false, highWaterMark: 1024 * 1024 })
}

function refuse(code: string, errno: number, what: string): never {
  throw new SystemError(`${code}: ${what}`, code, errno, 'fstat', STDIN_SHOWN)
}
