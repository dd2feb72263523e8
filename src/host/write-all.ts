// Writing a whole buffer to an fd with writeSync, which may write part of it at a time.
import { writeSync } from 'node:fs'

/** Writes bytes to fd until all are written or a write fails: how many were written, and the
 * error that stopped it (EPIPE, EAGAIN on a non-blocking fd…), for the caller to judge. */
export function writeAll(fd: number, bytes: Uint8Array): { written: number; error?: NodeJS.ErrnoException } {
  let written = 0
  try {
    while (written < bytes.length) written += writeSync(fd, bytes, written)
  } catch (e) {
    return { written, error: e as NodeJS.ErrnoException }
  }
  return { written }
}
