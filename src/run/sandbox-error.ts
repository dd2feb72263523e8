// What run() rejects with, as execa does: an Error that carries the whole result, so a caller
// can tell "the command failed" from "cordon failed" and still read what it printed.
import { CordonError, type ErrorCode } from '../errors.js'
import { escapeControl } from './escape.js'
import type { SandboxEvent, SignalName } from './events.js'
import { describeStepError, isStep } from './launcher-steps.js'
import type { ExitReason, ExitResult } from './spawn.js'

/** How much of stderr a message quotes: enough for the error, not a log. */
const STDERR_IN_MESSAGE = 4096

export interface FailedRun extends ExitResult {
  stdout: string
  stderr: string
  events: SandboxEvent[]
}

/** A run that did not exit with status 0: the command failed, was not found, was killed (a
 * signal, a limit, the timeout, an abort), or the sandbox could not be built. */
export class SandboxError extends CordonError {
  /** The command's status (128+N for signal N; 125 cordon failed; 126/127 not executable/found). */
  readonly exitCode: number
  readonly signal: SignalName | undefined
  readonly reason: ExitReason
  readonly stdout: string
  readonly stderr: string
  /** The command line, as given. */
  readonly command: readonly string[]
  /** The whole result, as run() with `reject: false` returns it. */
  readonly result: FailedRun
  /** The message without the quoted stderr. */
  readonly shortMessage: string

  constructor(
    command: readonly string[],
    result: FailedRun,
    options: { code?: ErrorCode; why?: string; step?: string } = {},
  ) {
    const short = `run(): \`${showCommand(command)}\` ${options.why ?? failure(result)}`
    const quoted = quote(result.stderr)
    const step = options.step ?? result.error?.step
    super(options.code ?? codeOf(result), quoted ? `${short}\n${quoted}` : short, step ? { step } : {})
    this.name = 'SandboxError'
    this.exitCode = result.code
    this.signal = result.signal
    this.reason = result.reason
    this.stdout = result.stdout
    this.stderr = result.stderr
    this.command = command
    this.result = result
    this.shortMessage = short
  }
}

/** Whether run() rejects this result by default: anything but a clean exit. */
export function failed(result: ExitResult): boolean {
  return result.reason !== 'exited' || result.code !== 0
}

function codeOf(result: ExitResult): ErrorCode {
  if (result.error && isStep(result.error.step, 'exec') && result.error.code === 'ENOENT') return 'not_found'
  return result.reason === 'setup' ? 'setup_failed' : 'command_failed'
}

function failure(result: ExitResult): string {
  if (result.error && result.reason === 'setup') return `could not start: ${describeStepError(result.error)}`
  switch (result.reason) {
    case 'signal':
      return `was killed by ${result.signal}`
    case 'oom':
      return 'was killed by the kernel: the sandbox ran out of memory (its memory limit)'
    case 'pids':
      return 'hit the sandbox\u2019s limit on processes (forks were refused)'
    case 'timeout':
      return `timed out after ${Math.round(result.durationMs)} ms: the whole sandbox was killed`
    case 'aborted':
      return 'was aborted (the `signal` option): the whole sandbox was killed'
    default:
      return `exited with status ${result.code}`
  }
}

/** The command line as a person would type it; control characters escaped (it is the caller's,
 * but may carry bytes a terminal acts on). */
function showCommand(command: readonly string[]): string {
  return command
    .map((a) => escapeControl(/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ')
}

/** The sandbox's stderr, which the sandbox controls: its tail, every control character escaped
 * line by line, so printing the error cannot move a terminal's cursor or retitle it. */
function quote(stderr: string): string {
  const tail = stderr.length > STDERR_IN_MESSAGE ? `…${stderr.slice(-STDERR_IN_MESSAGE)}` : stderr
  return tail
    .trimEnd()
    .split('\n')
    .map((line) => escapeControl(line))
    .join('\n')
}
