import fs from 'node:fs'
import nodePath from 'node:path'

/*
 * What sysfs says of a block device, by its device number: whether it is a
 * partition (of which disk, from which sector), a loop device (over which
 * file, from which byte), and what names the disk across reboots (WWID,
 * serial, device-mapper UUID, udev's ID_SERIAL). Read-only, no ioctl, no
 * privilege: every file read here is world-readable. Anything missing or
 * unreadable is "not known", never an error.
 */

/** glibc's major() of a dev_t, in arithmetic exact past 2^32. */
export function majorOf(dev: bigint): bigint {
  return ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)
}

/** glibc's minor() of a dev_t. */
export function minorOf(dev: bigint): bigint {
  return (dev & 0xffn) | ((dev >> 12n) & ~0xffn)
}

/** glibc's makedev(): the dev_t stat(2) reports for MAJOR:MINOR. */
export function makeDev(major: bigint, minor: bigint): bigint {
  return ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) | ((minor & ~0xffn) << 12n)
}

/** `MAJ:MIN`, as sysfs and people write a device number. */
export const devText = (dev: bigint): string => `${majorOf(dev)}:${minorOf(dev)}`

/** A sysfs attribute's text without its newline, or null. */
function attr(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').replace(/\n$/, '')
  } catch {
    return null
  }
}

/** A decimal attribute as a safe integer, or null. */
function numberAttr(file: string): number | null {
  const t = attr(file)?.trim()
  const n = t !== undefined && /^\d+$/.test(t) ? Number(t) : NaN
  return Number.isSafeInteger(n) ? n : null
}

/** What sysfs says of one block device. */
export interface SysBlock {
  /** Its kernel name (`sda1`, `loop3`); /dev/NAME is its usual node. */
  name: string
  /** Its directory under /sys/devices. */
  dir: string
  /** A partition: its first byte on `parent`, the whole disk. */
  partition: { startBytes: number; parent: bigint } | null
  /**
   * A loop device with a file attached: the file's path as the kernel
   * prints it (null when that path no longer names it: the file was
   * unlinked, which the kernel marks " (deleted)"), and the byte of it
   * where the device's byte 0 is.
   */
  loop: { backingFile: string | null; offsetBytes: number } | null
}

/** sysfs of the block device `dev` (st_rdev), or null when /sys does not know it. */
export function sysBlock(dev: bigint): SysBlock | null {
  let dir: string
  try {
    dir = fs.realpathSync.native(`/sys/dev/block/${devText(dev)}`)
  } catch {
    return null
  }
  const name = nodePath.basename(dir)
  let partition: SysBlock['partition'] = null
  if (fs.existsSync(nodePath.join(dir, 'partition'))) {
    // `start` counts 512-byte sectors whatever the logical block size; the parent directory is the whole disk's.
    const start = numberAttr(nodePath.join(dir, 'start'))
    const parent = /^(\d+):(\d+)$/.exec(attr(nodePath.join(nodePath.dirname(dir), 'dev')) ?? '')
    if (start === null || !parent) return { name, dir, partition: null, loop: null }
    partition = { startBytes: start * 512, parent: makeDev(BigInt(parent[1] as string), BigInt(parent[2] as string)) }
  }
  let loop: SysBlock['loop'] = null
  const backing = attr(nodePath.join(dir, 'loop', 'backing_file'))
  if (backing !== null) {
    // d_path marks a file unlinked since with this suffix: the name may now be another file's.
    const deleted = backing.endsWith(' (deleted)')
    loop = { backingFile: deleted ? null : backing, offsetBytes: numberAttr(nodePath.join(dir, 'loop', 'offset')) ?? 0 }
  }
  return { name, dir, partition, loop }
}

/** Characters kept as they are in a fingerprint; the rest are %XX, so it is one token without spaces or '+'. */
const encode = (s: string) => Array.from(Buffer.from(s, 'utf8'), (b) => (/[A-Za-z0-9._:=-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('')

/**
 * What names a whole disk across reboots and renumbering, or null when
 * nothing does: its WWID (SCSI, NVMe), its serial (SCSI, virtio, NVMe),
 * its device-mapper UUID, or udev's ID_SERIAL. Written `wwid:VALUE`,
 * `serial:VALUE`, `dm-uuid:VALUE` or `udev-serial:VALUE`, the value trimmed
 * and %-encoded.
 */
export function diskFingerprint(b: SysBlock, dev: bigint): string | null {
  const first = (kind: string, files: string[]): string | null => {
    for (const f of files) {
      const v = attr(nodePath.join(b.dir, f))?.trim()
      if (v) return `${kind}:${encode(v)}`
    }
    return null
  }
  const udev = attr(`/run/udev/data/b${devText(dev)}`)
  const udevSerial = udev === null ? null : /^E:ID_SERIAL=(.+)$/m.exec(udev)?.[1]?.trim()
  return first('wwid', ['wwid', 'device/wwid']) ?? first('serial', ['serial', 'device/serial']) ?? first('dm-uuid', ['dm/uuid'])
    ?? (udevSerial ? `udev-serial:${encode(udevSerial)}` : null)
}
