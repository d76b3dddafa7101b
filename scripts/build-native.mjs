// Builds the native addon at install time. A failed build is not fatal:
// blockcopy then runs through node:fs without O_DIRECT, and says so in its
// capabilities. Set BLOCKCOPY_REQUIRE_NATIVE=1 to make a failed build fail.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
let gyp
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js')
} catch {
  gyp = null
}
// Build against the headers of the Node that runs us when they are installed
// beside it (a distribution's Node), instead of letting node-gyp download them.
const prefix = dirname(dirname(process.execPath))
const nodedir = process.env.npm_config_nodedir
  || (existsSync(join(prefix, 'include', 'node', 'node.h')) ? prefix : '')
const gypArgs = ['rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])]
const run = gyp
  ? spawnSync(process.execPath, [gyp, ...gypArgs], { stdio: 'inherit' })
  : spawnSync('node-gyp', gypArgs, { stdio: 'inherit', shell: false })
if (run.status !== 0) {
  const why = run.error ? run.error.message : `node-gyp exited with ${run.status}`
  if (process.env.BLOCKCOPY_REQUIRE_NATIVE === '1') {
    console.error(`blockcopy: native addon build failed (${why})`)
    process.exit(1)
  }
  console.warn(`blockcopy: native addon not built (${why}); falling back to node:fs without O_DIRECT`)
}
