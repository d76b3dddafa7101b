// `npm run demo`: the main job on a built-in example. Makes a 64 MiB sample
// image, copies it with the blockcopy command to two destinations (one at an
// unaligned offset) with read-back verification, and shows the result.
import { spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = mkdtempSync(join(process.env.BLOCKCOPY_DEMO_DIR ?? '/var/tmp', 'blockcopy-demo-'))
const src = join(dir, 'sample.img')
const a = join(dir, 'replica-a.img')
const b = join(dir, 'replica-b.img')
const cli = new URL('../bin/blockcopy.js', import.meta.url).pathname

const show = (args) => {
  console.log(`\n$ blockcopy ${args.join(' ')}`)
  const run = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' })
  return run.status ?? 1
}

try {
  const image = Buffer.alloc(64 * 1024 * 1024)
  randomFillSync(image)
  writeFileSync(src, image)
  console.log(`sample image: ${src} (64 MiB of random bytes)`)
  let status = show(['copy', src, a, b, '--dst-offset', '0', '--dst-offset', '4097', '--verify', 'readback'])
  if (status === 0) {
    const same = (file, skip) => spawnSync('cmp', ['-i', `0:${skip}`, '-n', String(image.length), src, file]).status === 0
    console.log(`\ncmp: replica-a ${same(a, 0) ? 'identical' : 'DIFFERS'}, replica-b (at byte 4097) ${same(b, 4097) ? 'identical' : 'DIFFERS'}`)
    status = show(['zero', a, '--dst-offset', '1MiB', '--length', '1MiB', '--verify', 'readback'])
  }
  process.exitCode = status
} finally {
  rmSync(dir, { recursive: true, force: true })
}
