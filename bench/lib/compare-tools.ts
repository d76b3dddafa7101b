/**
 * The tools of bench:compare and how each is run on one source and one
 * destination. Every copy is made durable before its clock stops (a sync,
 * fdatasync or the tool's own flush), so the figures compare like with like.
 */

export type Kind = 'copy' | 'hash' | 'ceiling'

export interface Tool {
  name: string
  kind: Kind
  label: string
  /** Executables that must be on PATH, and the Debian package that has them. */
  needs: Array<{ program: string; apt: string }>
  /** argv (run under bash when the first element is 'bash'); DST is unused by hash tools. */
  command: (src: string, dst: string, sizeBytes: number) => string[]
  /** blockcopy rows carry the chunk size they ran with (for the chunk-size chart). */
  chunkBytes?: number
}

const sh = (script: string, ...args: string[]) => ['bash', '-c', script, 'bench', ...args]

/** The tools, in report order; blockcopy runs once per chunk size given. */
export function compareTools(blockcopy: string[], chunks: number[]): Tool[] {
  const node = [{ program: process.execPath, apt: 'nodejs' }]
  const bc = (verify: string, chunk: number): Tool => ({
    name: `blockcopy-${verify}-${chunk}`, kind: 'copy', label: `blockcopy copy --verify ${verify} --chunk ${chunk / 1024}KiB`, needs: node, chunkBytes: chunk,
    command: (src, dst) => [...blockcopy, 'copy', src, dst, '--verify', verify, '--chunk', String(chunk), '--progress', 'none', '--json'],
  })
  const main = chunks.includes(1024 * 1024) ? 1024 * 1024 : (chunks[0] as number)
  return [
    ...chunks.map((c) => bc('none', c)),
    bc('hash', main),
    bc('readback', main),
    { name: 'cp', kind: 'copy', label: 'cp && sync', needs: [{ program: 'cp', apt: 'coreutils' }], command: (s, d) => sh('cp -- "$1" "$2" && sync', s, d) },
    {
      name: 'dd', kind: 'copy', label: 'dd bs=4M iflag=direct oflag=direct', needs: [{ program: 'dd', apt: 'coreutils' }],
      command: (s, d) => ['dd', `if=${s}`, `of=${d}`, 'bs=4M', 'iflag=direct', 'oflag=direct', 'conv=fdatasync', 'status=none'],
    },
    {
      name: 'qemu-img', kind: 'copy', label: 'qemu-img convert -f raw -O raw && sync', needs: [{ program: 'qemu-img', apt: 'qemu-utils' }],
      command: (s, d) => sh('qemu-img convert -f raw -O raw -- "$1" "$2" && sync', s, d),
    },
    {
      name: 'dcfldd', kind: 'copy', label: 'dcfldd hash=md5 && sync', needs: [{ program: 'dcfldd', apt: 'dcfldd' }],
      command: (s, d) => sh('dcfldd if="$1" of="$2" bs=4M hash=md5 status=off hashlog=/dev/null && sync', s, d),
    },
    {
      name: 'ddrescue', kind: 'copy', label: 'ddrescue && sync', needs: [{ program: 'ddrescue', apt: 'gddrescue' }],
      command: (s, d) => sh('ddrescue -q -f -- "$1" "$2" "$2.map" && sync', s, d),
    },
    {
      name: 'blockcopy-hash-file', kind: 'hash', label: 'blockcopy hash', needs: node,
      command: (s) => [...blockcopy, 'hash', s, '--progress', 'none'],
    },
    { name: 'xxhsum', kind: 'hash', label: 'xxhsum -H3', needs: [{ program: 'xxhsum', apt: 'xxhash' }], command: (s) => ['xxhsum', '-H3', s] },
    { name: 'b3sum', kind: 'hash', label: 'b3sum', needs: [{ program: 'b3sum', apt: 'b3sum' }], command: (s) => ['b3sum', s] },
    {
      name: 'fio', kind: 'ceiling', label: 'fio: read and write at once, O_DIRECT (the ceiling)', needs: [{ program: 'fio', apt: 'fio' }],
      command: (s, d, size) => [
        'fio', '--output-format=terse', '--direct=1', '--bs=4M', '--ioengine=libaio', '--iodepth=8', '--end_fsync=1', `--size=${size}`,
        '--name=read', `--filename=${s}`, '--rw=read', '--name=write', `--filename=${d}`, '--rw=write',
      ],
    },
  ]
}
