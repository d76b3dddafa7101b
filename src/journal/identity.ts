import { devText } from '../files/sysfs.js'

/*
 * How a resume map names the files it was made for: a fingerprint of each
 * one's storage (src/files/storage.ts), stable across renames, renumbering
 * and reboots, written as one token:
 *
 *   ino:DEV:INO            a regular file (device and inode)
 *   dev:RDEV               a block device nothing better names
 *   wwid:V  serial:V       a whole disk, by what sysfs or udev say of it
 *   dm-uuid:V  udev-serial:V   (V trimmed, %-encoded: no spaces, no '+')
 *   ...+OFFSET             the path's byte 0 is byte OFFSET of that storage
 *                          (a partition, a loop device with an offset)
 *
 * A loop device is named by the file it reads (ino:DEV:INO+OFFSET), so
 * detaching and attaching it again under another number changes nothing,
 * and the same /dev/loopN over another file is another source.
 */

/** The grammar of a fingerprint, with the offset's digits as group 2. */
const FINGERPRINT = /^(ino:\d{1,20}:\d{1,20}|dev:\d{1,20}|(?:wwid|serial|dm-uuid|udev-serial):[A-Za-z0-9._:=%-]{1,1024})(?:\+(\d{1,16}))?$/

/** Whether `s` is a fingerprint as this file describes, with an offset below 2^53. */
export function isFingerprint(s: string): boolean {
  const m = FINGERPRINT.exec(s)
  return m !== null && (m[2] === undefined || Number.isSafeInteger(Number(m[2])))
}

/** A fingerprint as people read it: `the file with inode 1234 on device 8:1`, `the disk with serial X from byte 1048576`. */
export function describeFingerprint(fp: string): string {
  const m = FINGERPRINT.exec(fp)
  if (!m) return fp
  const base = m[1] as string
  const from = m[2] === undefined ? '' : `, from byte ${m[2]}`
  const dev = /^dev:(\d+)$/.exec(base)
  if (dev) return `the block device ${devText(BigInt(dev[1] as string))}${from}`
  const ino = /^ino:(\d+):(\d+)$/.exec(base)
  if (ino) return `the file with inode ${ino[2]} on device ${devText(BigInt(ino[1] as string))}${from}`
  const [kind, value] = [base.slice(0, base.indexOf(':')), base.slice(base.indexOf(':') + 1)]
  const shown = (() => {
    try {
      return decodeURIComponent(value)
    } catch {
      return value
    }
  })()
  const what = { wwid: 'WWID', serial: 'serial', 'dm-uuid': 'device-mapper UUID', 'udev-serial': 'udev ID_SERIAL' }[kind] ?? kind
  return `the disk with ${what} ${JSON.stringify(shown)}${from}`
}

/** A modification time in nanoseconds, as people read it: `2026-12-07 13:16:00.123456789 UTC`. */
export function describeMtime(ns: bigint): string {
  const s = ns / 1_000_000_000n
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0')
  return `${new Date(Number(s) * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${frac} UTC`
}

/**
 * Why a map that records bytes as done cannot be resumed into these
 * destinations, or null when it can: a destination whose fingerprint is not
 * the one recorded (`now[i]` null: it does not exist yet, which the caller
 * refuses as missing). A map without the line, or with no byte done, has
 * nothing to check.
 */
export function destMismatch(recorded: readonly string[] | null, now: ReadonlyArray<string | null>, doneBytes: number): string | null {
  if (recorded === null || doneBytes === 0) return null
  const differing = now.flatMap((fp, i) => {
    const was = recorded[i]
    // One that does not exist is refused as missing (resume.ts openMap), before this.
    if (was === undefined || fp === null || fp === was) return []
    return [`to[${i}].path is ${describeFingerprint(fp)}, where the map's destination ${i + 1} was ${describeFingerprint(was)}`]
  })
  if (recorded.length !== now.length) differing.push(`the map was made for ${recorded.length} destination(s), this copy writes ${now.length}`)
  return differing.length === 0 ? null : `${differing.join('; ')}: the ${doneBytes} bytes it records as done were written to other files`
}
