import { execFileSync } from 'node:child_process'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { systemPageBytes } from '../src/io/page.js'
import { PAGE_BYTES } from '../src/files/regions.js'

const test = suite('the page size')

test('the page size read from the auxiliary vector is the one getconf reports', () => {
  const getconf = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim())
  assert.is(systemPageBytes(), getconf)
  assert.is(PAGE_BYTES, Math.max(4096, getconf))
})

test.run()
