import fs from 'node:fs'
import { toSystemError } from '../errors.js'
import type { BaselineResult, BaselineTask } from '../protocol/protocol.js'
import type { WorkerContext } from './context.js'

/**
 * Runs a baseline task (src/protocol/protocol.ts BaselineTask) in the calling
 * worker: the whole-file clone, its fsync and both FIEMAPs, each of which
 * may wait on the disk. Never throws: the first error is data, named by
 * the file it concerns (the clone's ioctl is issued on the clone).
 */
export function cloneBaseline(ctx: WorkerContext, t: BaselineTask): BaselineResult {
  const result: BaselineResult = { kind: 'baseline', error: null, sizeBytes: 0, cloneExtents: [], oldExtents: null }
  let step = { syscall: 'fstat', path: t.src.path }
  try {
    const io = ctx.io
    if (!io.fiemap) throw new Error('the native addon is not loaded in this worker (FIEMAP)')
    const size = fs.fstatSync(t.src.fd).size
    step = { syscall: 'ioctl', path: t.clone.path }
    io.cloneRange(t.src.fd, 0, t.clone.fd, 0, size)
    // The clone's extent map on disk before anything is bound to it.
    step = { syscall: 'fsync', path: t.clone.path }
    fs.fsyncSync(t.clone.fd)
    step = { syscall: 'ioctl', path: t.clone.path }
    result.cloneExtents = Array.from(io.fiemap(t.clone.fd, 0, size))
    if (t.old.fd >= 0) {
      step = { syscall: 'ioctl', path: t.old.path }
      result.oldExtents = Array.from(io.fiemap(t.old.fd, 0, size))
    }
    result.sizeBytes = size
  } catch (err) {
    const e = toSystemError(err, step.syscall, step.path)
    result.error = { code: e.code, errno: e.errno, syscall: e.syscall, message: e.message, path: e.path ?? step.path }
  }
  return result
}
