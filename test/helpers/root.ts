// uvu cannot skip a test once it is running, so a test that lacks what it
// needs asks for a reason, prints it with logSkip and returns early:
//
//   const why = skipUnlessRoot('attaches loop devices')
//   if (why) return logSkip(why)
//
// scripts/test.mjs counts each printed `# skip:` line as a skipped test
// instead of a passed one.

/** True when this process runs with effective uid 0. */
export function isRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0
}

/** A skip reason naming what needs root, or null when running as root. */
export function skipUnlessRoot(reason: string): string | null {
  return isRoot() ? null : `needs root: ${reason}`
}

/** Prints the line `# skip: REASON` that marks the current test as skipped. */
export function logSkip(reason: string): void {
  process.stdout.write(`\n# skip: ${reason}\n`)
}
