// Writing a whole buffer to an fd with writeSync, which may write part of it at a time, and a
// whole file into cordon's own state in place of another, never through a planted one.
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'

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

/** Replaces file with bytes, whole or not at all: written to a temporary name beside it opened
 * O_EXCL | O_NOFOLLOW (never through a file or link planted there), mode 0600, then renamed
 * over it. False when nothing was written (a full disk: no file cut short, no temporary left);
 * an error opening or renaming is thrown. */
export function replaceFile(file: string, bytes: Uint8Array): boolean {
  const temp = `${file}.${process.pid}.tmp`
  const fd = openSync(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  )
  let whole = false
  try {
    whole = !writeAll(fd, bytes).error
  } finally {
    closeSync(fd)
    if (!whole) unlinkSync(temp)
  }
  if (whole) renameSync(temp, file)
  return whole
}
