import { refuseAliases, regionRole, savedFileRoles, type PathRole } from '../files/aliases.js'
import { baselineRoles } from '../incremental/baseline.js'

/*
 * What each command reads and writes, by the names typed on the command
 * line, checked by src/files/aliases.ts before anything is created or
 * written (the library checks its own arguments again, by its own names).
 * `verify` writes nothing, so it has nothing to check.
 */

/** `DST` for a single destination, `DST 2` among several. */
const dstName = (i: number, count: number) => (count > 1 ? `DST ${i + 1}` : 'DST')

/** `hash FILE... [-o MANIFEST]`: the manifest and its temporary file are neither FILE. */
export function checkHashPaths(files: string[], output: string | undefined): void {
  const reads = files.map((p, i): PathRole => ({ name: `FILE ${i + 1}`, path: p }))
  refuseAliases(reads, output === undefined ? [] : savedFileRoles('-o', output, { argument: 'output' }))
}

/**
 * `copy SRC DST... [--map M] [--since M] [--baseline P]`: a DST may be SRC
 * or another DST where their byte ranges do not overlap (checked by the
 * library); every other file the copy writes (the map, the manifest, the
 * baseline, and what each writes beside it) is a file of its own. `baselineFlag`
 * is the flag the baseline was given by (`--checkpoint` is its old name).
 */
export function checkCopyPaths(src: string, dsts: string[], f: { map?: string; since?: string; baseline?: string; baselineFlag: string }): void {
  refuseAliases([regionRole('SRC', src)], [
    ...dsts.map((d, i) => regionRole(dstName(i, dsts.length), d)),
    ...(f.map === undefined ? [] : savedFileRoles('--map', f.map, { argument: 'map', lock: true })),
    ...(f.since === undefined ? [] : savedFileRoles('--since', f.since, { argument: 'since', lock: true })),
    ...(f.baseline === undefined ? [] : baselineRoles(f.baseline, f.baselineFlag, 'baseline')),
  ])
}

/** `replicate SRC DST [--ranges FILE]`: DST may be SRC (a memmove), but not the ranges file. */
export function checkReplicatePaths(src: string, dst: string, ranges: string | undefined): void {
  const reads = [regionRole('SRC', src), ...(ranges === undefined ? [] : [{ name: '--ranges', path: ranges, argument: 'ranges' }])]
  refuseAliases(reads, [regionRole('DST', dst)])
}

/** `zero DST...`: destinations that are one file are kept apart by their ranges (the library checks them). */
export function checkZeroPaths(dsts: string[]): void {
  refuseAliases([], dsts.map((d, i) => regionRole(dstName(i, dsts.length), d)))
}
