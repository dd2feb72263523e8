// Files cordon writes for the user (-o outputs). A sandbox may have written the directory they
// go to (learn's working directory, an earlier run's --rw): a symbolic link planted at the
// output name would make a root caller write wherever it points. So an output is never
// written through a link: a new file is made beside it (O_EXCL, O_NOFOLLOW) and renamed over
// the name, which replaces a link rather than following it.
import {
  closeSync,
  constants,
  lstatSync,
  openSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { CordonError } from '../errors.js'

export function writeOutput(path: string, data: string | Uint8Array, mode = 0o644): void {
  const full = resolve(path)
  let link = false
  try {
    link = lstatSync(full).isSymbolicLink()
  } catch {} // not there yet
  if (link)
    throw new CordonError(
      'invalid_usage',
      `${path} is a symbolic link; cordon does not write through links (a sandbox may have planted it): remove it or pick another name`,
    )
  const temp = join(dirname(full), `.${basename(full)}.cordon-${process.pid}-${Date.now()}`)
  let fd: number
  try {
    fd = openSync(
      temp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode,
    )
  } catch (e) {
    ;(e as NodeJS.ErrnoException).path = path // the user's name, not the temporary one
    throw e
  }
  try {
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    } finally {
      closeSync(fd)
    }
  } catch (e) {
    unlinkSync(temp)
    throw e
  }
  renameSync(temp, full)
}

/** The real directory an output goes to, taken before a sandbox runs: `sameDirectory` after
 * the run refuses to write when a link planted meanwhile moved it elsewhere. */
export function outputDirectory(path: string): string {
  return realpathSync(dirname(resolve(path)))
}

export function sameDirectory(path: string, before: string): void {
  let now: string | undefined
  try {
    now = outputDirectory(path)
  } catch {}
  if (now !== before)
    throw new CordonError(
      'invalid_usage',
      `${path}: its directory was ${before} when the run started and is ${now ?? 'gone'} now (a link planted during the run?); nothing written`,
    )
}
