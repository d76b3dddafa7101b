#!/usr/bin/env node
// Rebuilds native/wasm/xxh3.wasm (XXH3-64 / XXH3-128 with WebAssembly SIMD128,
// loaded by src/hash/xxh3-simd.ts) from native/wasm/xxh3.c with clang and
// wasm-ld. The built module is committed, so installs do not need clang; run
// this after changing the C source, and commit both.
//
//   node scripts/build-wasm.mjs            rebuild native/wasm/xxh3.wasm
//   node scripts/build-wasm.mjs --check    build to a temporary file and fail
//                                          if it differs from the committed one
//
// CLANG names the compiler (default: clang, then clang-20 ... clang-14). On
// Debian: apt-get install clang lld. The same clang version gives the same
// bytes (the producers and name sections are stripped); another version may
// give different but equivalent code, which `--check` reports as a difference.
/* global WebAssembly -- a Node global that eslint.config.js does not list */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const source = join(root, 'native', 'wasm', 'xxh3.c')
const target = join(root, 'native', 'wasm', 'xxh3.wasm')
const check = process.argv.includes('--check')

/** Every flag but the output file; printed, so that a build can be repeated by hand. */
const FLAGS = [
  '--target=wasm32', '-O3', '-msimd128', '-mbulk-memory', '-ffreestanding', '-nostdlib',
  '-Wall', '-Wextra', '-Werror',
  '-Wl,--no-entry', '-Wl,--strip-all', '-Wl,-z,stack-size=16384',
]

function fail(message) {
  console.error(`build-wasm: ${message}`)
  process.exit(1)
}

/** The first compiler that runs: $CLANG, or clang, or a versioned clang. */
function findClang() {
  const names = process.env.CLANG ? [process.env.CLANG] : ['clang', ...Array.from({ length: 7 }, (_, i) => `clang-${20 - i}`)]
  for (const name of names) {
    const run = spawnSync(name, ['--version'], { encoding: 'utf8' })
    if (run.status === 0) return { name, version: run.stdout.split('\n')[0] }
  }
  return fail(`no clang found (tried ${names.join(', ')}); install clang and lld (Debian: apt-get install clang lld) or set CLANG`)
}

/** Fails unless clang can find a wasm-ld that runs. */
function checkLinker(clang) {
  const prog = spawnSync(clang, ['--target=wasm32', '-print-prog-name=wasm-ld'], { encoding: 'utf8' })
  const linker = prog.status === 0 ? prog.stdout.trim() : 'wasm-ld'
  const run = spawnSync(linker, ['--version'], { encoding: 'utf8' })
  if (run.status !== 0) fail(`${clang} found no wasm-ld (${linker}); install lld (Debian: apt-get install lld)`)
}

/** Instantiates the built module and checks it against known digests. */
async function selfTest(file) {
  const module = await WebAssembly.compile(readFileSync(file))
  const imports = WebAssembly.Module.imports(module)
  if (imports.length > 0) fail(`the module imports ${imports.map((i) => `${i.module}.${i.name}`).join(', ')}; it must import nothing`)
  const { exports: e } = await WebAssembly.instantiate(module, {})
  const hex = (bits, text) => {
    const bytes = new TextEncoder().encode(text)
    if (e.xxh_reserve(bytes.length) < bytes.length) fail('xxh_reserve could not grow memory')
    new Uint8Array(e.memory.buffer, e.xxh_input(), bytes.length).set(bytes)
    e.xxh_init(bits)
    e.xxh_update(e.xxh_input(), bytes.length)
    return Buffer.from(new Uint8Array(e.memory.buffer, e.xxh_digest(), bits / 8)).toString('hex')
  }
  // `xxhsum -H3` / `xxhsum -H2` of an empty file and of "hello\n".
  const known = [
    [64, '', '2d06800538d394c2'],
    [128, '', '99aa06d3014798d86001c324468d497f'],
    [64, 'hello\n', '99fc819aaba2462a'],
    [128, 'hello\n', '6bba86c7e069f56d5a10b435f1c8e49c'],
  ]
  for (const [bits, text, want] of known) {
    const got = hex(bits, text)
    if (got !== want) fail(`self-test: ${bits}-bit digest of ${JSON.stringify(text)} is ${got}, expected ${want}`)
  }
  if (e.xxh_input() % 4096 !== 0) fail(`the input area starts at ${e.xxh_input()}, not 4096-byte aligned`)
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex')

const clang = findClang()
checkLinker(clang.name)
const scratch = mkdtempSync(join(tmpdir(), 'build-wasm-'))
try {
  const out = join(scratch, 'xxh3.wasm')
  const args = [...FLAGS, '-o', out, source]
  console.log(`${clang.version}\n$ ${clang.name} ${args.map((a) => (a === out ? 'OUT.wasm' : a === source ? relative(root, source) : a)).join(' ')}`)
  const run = spawnSync(clang.name, args, { cwd: root, stdio: 'inherit' })
  if (run.error) fail(`${clang.name} did not run: ${run.error.message}`)
  if (run.status !== 0) fail(`${clang.name} exited with ${run.status ?? run.signal}`)
  await selfTest(out)
  const size = readFileSync(out).length
  if (check) {
    let committed = null
    try {
      committed = sha256(target)
    } catch {
      fail(`${relative(root, target)} is missing`)
    }
    if (committed !== sha256(out)) fail(`${relative(root, target)} differs from a fresh build (${size} bytes, sha256 ${sha256(out)}); rebuild and commit it`)
    console.log(`${relative(root, target)} matches a fresh build (${size} bytes, sha256 ${committed})`)
  } else {
    chmodSync(out, 0o644) // the linker makes it executable
    renameSync(out, target)
    console.log(`wrote ${relative(root, target)} (${size} bytes, sha256 ${sha256(target)})`)
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
