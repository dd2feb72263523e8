// Runs one command and maps its failure to an exit status, for both CLI entries: main.ts (every
// command, the ES bundle) and run-main.ts (`cordon run` alone, the cached CommonJS bundle that
// bin/cordon.cjs loads). Nothing here names a command but `run` and `learn`.
import { CordonError, outOfFds, RAISE_FD_LIMIT } from '../errors.js'
import { isMissingBuild } from '../host/launcher.js'
import { FlagError } from './args.js'
import { loadFilterCompiler } from '../plan/lazy-filter.js'
import { warn } from './output.js'

/** A command: its arguments in, its exit status out. */
export type Command = (argv: string[]) => Promise<number>

/** Commands whose exit status is the program's: any status of cordon's own could be mistaken
 * for the program's, so all of them are 125 (as env, timeout and chroot do). */
const RUNS_A_PROGRAM = new Set(['run', 'learn'])

/** Exit status for bad input: 2, or 125 where the status is otherwise the program's. */
const usageStatus = (command: string) => (RUNS_A_PROGRAM.has(command) ? 125 : 2)

/** Exit status for a failure before the command ran (README: "Exit status"): what the caller
 * named and cordon did not find (a policy file, a profile, a sandbox id) is bad input too. */
function failureStatus(error: CordonError, command: string): number {
  return error.code === 'invalid_policy' ||
    error.code === 'invalid_usage' ||
    error.code === 'invalid_rules' ||
    (error.code === 'not_found' && !isMissingBuild(error))
    ? usageStatus(command)
    : 125
}

let stdoutGuarded = false
/** `cordon … | head` closes stdout early: that is the reader's choice, not an error. Called by
 * whatever is about to write to stdout: `process.stdout` is a stream Node builds on first use
 * (a tty, pipe or file writer, ~2 ms of a start), which `cordon run` needs only for --help. */
export function guardStdout(): void {
  if (stdoutGuarded) return
  stdoutGuarded = true
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
}

/** Loads and runs the command `name`, setting process.exitCode. */
export async function dispatch(name: string, load: () => Promise<Command>, rest: string[]): Promise<void> {
  // Only `run` writes nothing to stdout but its --help (commands/run.ts guards it there).
  if (name !== 'run') guardStdout()
  try {
    // The seccomp compiler loads with every command that may compile a plan; `run` loads it
    // only when its policy's filter is not precompiled (lazy-filter.ts).
    if (name !== 'run') await loadFilterCompiler()
    process.exitCode = await (await load())(rest)
  } catch (error) {
    if (error instanceof CordonError) {
      // One escaped line each: a policy error lists its problems on lines of their own.
      const text = error instanceof FlagError ? `${error.message}; see cordon ${name} --help` : error.message
      for (const line of text.split('\n')) warn(line)
      process.exitCode = failureStatus(error, name)
    } else if (isOutOfFds(error)) {
      // Not the file's fault (it was named as a path, and read as bad input with a wrong fix).
      const call = error.syscall ?? 'open'
      const what = error.path && !call.includes(error.path) ? `${call} ${error.path}` : call
      warn(`too many open files (${what}): ${RAISE_FD_LIMIT}`)
      process.exitCode = 125
    } else if (isFsError(error)) {
      warn(describeFsError(error))
      process.exitCode = usageStatus(name)
    } else {
      warn(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      process.exitCode = 125
    }
  }
}

/** The process or the system ran out of file descriptors, whatever it opened. */
function isOutOfFds(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && outOfFds((e as NodeJS.ErrnoException).code)
}

/** An error of a file the user named (an -o output, a --policy input): fs errors carry the
 * path and the call. */
function isFsError(e: unknown): e is NodeJS.ErrnoException & { path: string } {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).path === 'string' && 'syscall' in e
}

const FS_REASONS: Record<string, string> = {
  ENOENT:
    'it, or a directory on the way to it, does not exist; cordon does not create directories: make it first',
  EACCES: 'permission denied; pick a path you can write',
  EPERM: 'not permitted; pick a path you can write',
  EISDIR: 'it is a directory; give a file name',
  ENOTDIR: 'a part of the path is not a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EEXIST: 'it already exists',
}

function describeFsError(e: NodeJS.ErrnoException & { path: string }): string {
  const reason = FS_REASONS[e.code ?? ''] ?? e.message
  return `${e.path}: ${reason} (${e.code ?? e.syscall})`
}
