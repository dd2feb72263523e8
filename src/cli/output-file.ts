// Files cordon writes for the user (-o outputs). A sandbox may have written the directory they
// go to (learn's working directory, an earlier run's --rw): a symbolic link planted at the
// output name would make a root caller write wherever it points. So an output is never
// written through a link: a new file is made beside it (O_EXCL, O_NOFOLLOW) and renamed over
// the name, which replaces a link rather than following it. Paths are taken as bytes
// (path-bytes.ts): a name that is not UTF-8, as a string, names a sibling anyone can make.
import {
  accessSync,
  closeSync,
  constants,
  statSync,
  lstatSync,
  openSync,
  realpathSync,
  renameSync,
  unlinkSync,
} from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { CordonError } from '../errors.js'
import { callerResolve, fsPath, pathFromBytes } from '../host/path-bytes.js'
import { writeAll } from '../host/write-all.js'

export function writeOutput(path: string, data: string | Uint8Array, mode = 0o644): void {
  const full = callerResolve(path)
  checkOutputPath(path)
  let link = false
  try {
    link = lstatSync(fsPath(full)).isSymbolicLink()
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
      fsPath(temp),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode,
    )
  } catch (e) {
    throw outputError(path, (e as NodeJS.ErrnoException).code ?? 'EIO')
  }
  // All of it, or nothing in place: one writeSync on a nearly full disk wrote part of a plan or
  // a policy and the part was renamed into place, the run exiting 0 (helper-114). A policy cut
  // at a line could even load, without the sections after the cut.
  let error: NodeJS.ErrnoException | undefined
  try {
    error = writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data).error
  } finally {
    closeSync(fd)
  }
  if (error) {
    unlinkSync(fsPath(temp))
    throw outputError(path, error.code ?? 'EIO')
  }
  renameSync(fsPath(temp), fsPath(full))
}

/** The real directory an output goes to, taken before a sandbox runs: `sameDirectory` after
 * the run refuses to write when a link planted meanwhile moved it elsewhere. `example`: the
 * file name a directory given instead is told to take. */
export function outputDirectory(path: string, example?: string): string {
  checkOutputPath(path, example)
  const dir = pathFromBytes(realpathSync(fsPath(dirname(callerResolve(path))), { encoding: 'buffer' }))
  tryCreate(dir, path)
  return dir
}

/** A file made and removed at once in dir: the kernel's answer (/proc takes no new files)
 * before a run whose output would go there, not after it. */
function tryCreate(dir: string, path: string): void {
  const probe = join(dir, `.cordon-probe-${process.pid}-${Date.now()}`)
  try {
    closeSync(
      openSync(
        fsPath(probe),
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      ),
    )
  } catch (e) {
    throw outputError(path, (e as NodeJS.ErrnoException).code ?? 'EIO')
  }
  unlinkSync(fsPath(probe))
}

/** An output directory given to -o (export): when it exists, a directory this caller can
 * create files in. */
export function checkOutputDirectory(dir: string): void {
  let st
  try {
    st = statSync(fsPath(dir))
  } catch {
    return // made by the export
  }
  if (!st.isDirectory()) fail(dir, `${dir} is a file; -o takes a directory here`)
  tryCreate(callerResolve(dir), join(dir, 'x'))
}

/** What is wrong with an output path, said before anything runs: a directory where a file
 * goes, a missing or non-directory parent, a parent this caller cannot write. */
export function checkOutputPath(path: string, example = 'out'): void {
  const full = callerResolve(path)
  const dir = dirname(full)
  let target
  try {
    target = statSync(fsPath(full))
  } catch {} // not there yet: the usual case
  if (target?.isDirectory())
    fail(path, `${full} is a directory; give a file name, e.g. ${join(path, example)}`)
  let parent
  try {
    parent = statSync(fsPath(dir))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      fail(path, `the directory ${dir} does not exist; cordon does not create directories: mkdir -p ${dir}`)
    if (code === 'ENOTDIR') fail(path, `a part of ${dir} is a file, not a directory`)
    fail(path, `cannot reach ${dir} (${code}): pick a directory you can write`)
  }
  if (!parent.isDirectory()) fail(path, `${dir} is not a directory`)
  try {
    accessSync(fsPath(dir), constants.W_OK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    fail(
      path,
      code === 'EROFS'
        ? `${dir} is on a read-only file system; pick another place`
        : `${dir} is not writable by you (${code}); pick a directory you can write`,
    )
  }
}

function fail(path: string, why: string): never {
  throw new CordonError('invalid_usage', `cannot write ${path}: ${why}`)
}

/** The kernel's refusal to make the file, past the checks above (a /proc or /sys directory
 * takes no new files; a full disk). */
function outputError(path: string, code: string): CordonError {
  const dir = dirname(callerResolve(path))
  const why: Record<string, string> = {
    ENOENT: `${dir} takes no new files (a kernel file system such as /proc or /sys?); pick another place`,
    EACCES: `${dir} is not writable by you; pick a directory you can write`,
    EPERM: `${dir} does not let you create files there; pick another place`,
    EROFS: `${dir} is on a read-only file system; pick another place`,
    ENOSPC: 'the disk is full',
    EDQUOT: 'your disk quota is used up',
  }
  return new CordonError(
    'invalid_usage',
    `cannot write ${path}: ${why[code] ?? `the kernel refused (${code})`}`,
  )
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
