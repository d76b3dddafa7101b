import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * The contenders and targets of bench/hash.ts. Each contender reads one
 * file, as its own process, from a page cache prepared for it: `cached` (the
 * whole file read just before) or `cold` (caches dropped just before).
 *
 * To add contenders (say `blockcopy verify` against a replica), write a
 * function of ContenderContext like the groups below, add it to
 * CONTENDER_GROUPS, and add its targets to TARGETS; the harness runs,
 * interleaves, checks and reports whatever is listed here.
 */

/** How the page cache must be before a run. */
export type CachePhase = 'cached' | 'cold'

/** What a contender prints that the harness checks on its first run. */
export type OutputCheck =
  /** An `XXH3 (FILE) = HEX` line; every contender with this check must print the same HEX. */
  | 'xxhsum-line'
  /** blockcopy's --json object with ok true; every such contender must give the same root. */
  | 'manifest-json'
  | 'none'

export interface HashContender {
  /** Short name for --only and the JSON result. */
  name: string
  /** Shown in the table. */
  label: string
  phase: CachePhase
  /** argv for one run over `file`; the first element is the executable. */
  command: (file: string) => string[]
  check: OutputCheck
  /** What makes this figure comparable, said once in the output. */
  note: string
  /**
   * process (default): the wall time of the whole process. reported: the
   * `elapsedMs` the contender prints in its JSON (a library call timed inside
   * a process that is already running, as an embedder's is).
   */
  timing?: 'process' | 'reported'
  /** Makes what the command needs besides the file (a manifest, a replica), once, before the first round. */
  prepare?: (file: string) => void
}

export interface ContenderContext {
  /** node and bin/blockcopy.js. */
  blockcopy: string[]
  /** node and bench/lib/hash-library.mjs. */
  library: string[]
  /** node and bench/lib/hash-floor.mjs. */
  floor: string[]
  /** Extra flags for every blockcopy run (--blockcopy-args). */
  blockcopyArgs: string[]
}

function xxhsumGroup(): HashContender[] {
  return [
    {
      name: 'xxhsum',
      label: 'xxhsum -H3 (cached)',
      phase: 'cached',
      command: (file) => ['xxhsum', '-H3', file],
      check: 'xxhsum-line',
      note: 'xxhsum 0.8 -H3: one thread, read(2) into a buffer and XXH3 in native code',
    },
  ]
}

function blockcopyHashGroup(c: ContenderContext): HashContender[] {
  const hash = (file: string) => [...c.blockcopy, 'hash', file, '--progress', 'none', '--json', ...c.blockcopyArgs]
  return [
    {
      name: 'hash',
      label: 'blockcopy hash (cached)',
      phase: 'cached',
      command: hash,
      check: 'manifest-json',
      note: 'blockcopy hash FILE --json: the chunk manifest (1 MiB chunks) through the worker pool',
    },
    {
      name: 'hash-library',
      label: 'client.hash (cached)',
      phase: 'cached',
      command: (file) => [...c.library, file, ...c.blockcopyArgs],
      check: 'manifest-json',
      timing: 'reported',
      note: 'the same manifest through the library: createClient, client.hash, destroy, timed inside a running Node process',
    },
    {
      name: 'floor',
      label: 'floor: commander + Piscina (cached)',
      phase: 'cached',
      command: (file) => [...c.floor, file, ...c.blockcopyArgs],
      check: 'manifest-json',
      note: 'bench/lib/hash-floor.mjs: the same manifest by a process that loads what blockcopy hash loads (commander, Piscina, one worker a core, the same xxh3 WebAssembly) and nothing of its engine',
    },
    {
      name: 'xxhsum-mode',
      label: 'blockcopy hash --xxhsum (cached)',
      phase: 'cached',
      command: (file) => [...c.blockcopy, 'hash', '--xxhsum', file, ...c.blockcopyArgs],
      check: 'xxhsum-line',
      note: 'blockcopy hash --xxhsum FILE: one whole-stream XXH3 digest, hashed in the main thread',
    },
    {
      name: 'hash-cold',
      label: 'blockcopy hash (cold)',
      phase: 'cold',
      command: hash,
      check: 'manifest-json',
      note: 'the same manifest from a cold cache (O_DIRECT for chunks the cache does not hold)',
    },
  ]
}

function fioGroup(): HashContender[] {
  return [
    {
      name: 'fio',
      label: 'fio O_DIRECT read (cold)',
      phase: 'cold',
      command: (file) => [
        'fio', '--name=seqread', `--filename=${file}`, '--readonly', '--rw=read', '--bs=1M', '--direct=1',
        '--ioengine=libaio', '--iodepth=4', '--numjobs=1', '--output-format=terse',
      ],
      check: 'none',
      note: 'fio --rw=read --bs=1M --direct=1 --ioengine=libaio --iodepth=4: one sequential reader, 4 reads in flight, no hashing',
    },
  ]
}

/**
 * blockcopy verify, cold: one replica against a manifest (one file read,
 * like fio's), and a source against a replica (two files read at once, like
 * fio with a job for each).
 */
function verifyGroup(c: ContenderContext): HashContender[] {
  const run = (args: string[]) => {
    const r = spawnSync(args[0] as string, args.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed (exit ${r.status})`)
  }
  return [
    {
      name: 'verify-manifest-cold',
      label: 'blockcopy verify --manifest (cold)',
      phase: 'cold',
      command: (file) => [...c.blockcopy, 'verify', '--manifest', `${file}.bcm`, file, '--progress', 'none', ...c.blockcopyArgs],
      check: 'none',
      note: 'blockcopy verify --manifest M FILE: one replica checked against its manifest (1 MiB chunks), exit 0',
      prepare: (file) => run([...c.blockcopy, 'hash', file, '-o', `${file}.bcm`, '--progress', 'none']),
    },
    {
      name: 'verify-cold',
      label: 'blockcopy verify SRC REPLICA (cold)',
      phase: 'cold',
      command: (file) => [...c.blockcopy, 'verify', file, `${file}.replica`, '--progress', 'none', ...c.blockcopyArgs],
      check: 'none',
      note: 'blockcopy verify FILE REPLICA: both read once and compared byte for byte, exit 0',
      prepare: (file) => run(['cp', '--reflink=never', file, `${file}.replica`]),
    },
    {
      name: 'fio2',
      label: 'fio O_DIRECT read of both (cold)',
      phase: 'cold',
      command: (file) => [
        'fio', '--readonly', '--rw=read', '--bs=1M', '--direct=1', '--ioengine=libaio', '--iodepth=4', '--output-format=terse',
        '--name=source', `--filename=${file}`, '--name=replica', `--filename=${file}.replica`,
      ],
      check: 'none',
      note: 'fio with two sequential readers at once (the file and its replica), 4 reads in flight each',
      prepare: (file) => {
        if (!existsSync(`${file}.replica`)) run(['cp', '--reflink=never', file, `${file}.replica`])
      },
    },
  ]
}

/** Every group, in report order. */
export const CONTENDER_GROUPS: Array<(c: ContenderContext) => HashContender[]> = [xxhsumGroup, blockcopyHashGroup, fioGroup, verifyGroup]

export function makeHashContenders(c: ContenderContext): HashContender[] {
  return CONTENDER_GROUPS.flatMap((group) => group(c))
}

/**
 * `contender` must reach `atLeast` times the throughput of `peer` (medians).
 * An `info` line is no target: a ratio shown for what it explains (a floor).
 */
export interface HashTarget {
  label: string
  contender: string
  peer: string
  atLeast: number
  info?: true
}

export const TARGETS: HashTarget[] = [
  { label: 'blockcopy hash >= 1.0x xxhsum -H3, cached', contender: 'hash', peer: 'xxhsum', atLeast: 1.0 },
  { label: 'client.hash (library, workers started in the timing) >= 1.0x xxhsum -H3, cached', contender: 'hash-library', peer: 'xxhsum', atLeast: 1.0 },
  { label: 'floor (commander + Piscina + xxh3 WebAssembly, no engine) against xxhsum -H3, cached', contender: 'floor', peer: 'xxhsum', atLeast: 1.0, info: true },
  { label: 'blockcopy hash against that floor, cached', contender: 'hash', peer: 'floor', atLeast: 1.0, info: true },
  { label: 'blockcopy hash --xxhsum >= 0.6x xxhsum -H3, cached', contender: 'xxhsum-mode', peer: 'xxhsum', atLeast: 0.6 },
  { label: 'blockcopy hash >= 0.9x fio O_DIRECT read, cold', contender: 'hash-cold', peer: 'fio', atLeast: 0.9 },
  { label: 'blockcopy verify --manifest (one replica) >= 0.9x fio O_DIRECT read, cold', contender: 'verify-manifest-cold', peer: 'fio', atLeast: 0.9 },
  { label: 'blockcopy verify SRC REPLICA >= 0.9x fio reading both, cold', contender: 'verify-cold', peer: 'fio2', atLeast: 0.9 },
]
