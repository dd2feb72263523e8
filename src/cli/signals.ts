// Signals cordon passes on to the sandboxed command (run, audit, learn), so that Ctrl-C,
// a terminal resize or a service manager's stop reach the command and not only cordon.
// The launcher forwards the same list (native/launcher.c forwarded[]), and with --all-signals
// the rest of native/forward-signal.h forwarded_all, which the addon's handler sends it.
import { releaseStartGuard } from '../host/start-guard.js'
import { forwardOthers, type LauncherProcess } from '../run/launcher-process.js'

export const FORWARDED: NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
]

/** Passes FORWARDED on to `forward` from now on, and every other signal the launcher passes on
 * (--all-signals: SIGALRM, SIGPWR, the real-time ones) to `launcher` directly; the function
 * returned stops it. */
export function forwardSignals(
  forward: (signal: NodeJS.Signals) => void,
  launcher?: LauncherProcess,
): () => void {
  for (const s of FORWARDED) process.on(s, forward)
  const stopOthers = launcher ? forwardOthers(launcher, FORWARDED) : undefined
  releaseStartGuard()
  return () => {
    stopOthers?.()
    for (const s of FORWARDED) process.off(s, forward)
  }
}

/** Signals whose default action ends a process without a core dump: cordon can die of them. */
const ENDS_QUIETLY = new Set<NodeJS.Signals>([
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGPIPE',
  'SIGALRM',
  'SIGUSR1',
  'SIGUSR2',
])

/** A command killed by a signal: cordon, once everything else is done (its exit), dies of the
 * same signal, as its caller would have seen the command die. An exit status of 128+N is not
 * the same thing: a shell running cordon in a loop stops at a Ctrl-C only when its child died of
 * SIGINT (one that exits 130 handled it, and the loop goes on: helper-111), and Python's
 * `returncode` is -2 rather than 130. A signal whose default action dumps core (SIGQUIT,
 * SIGSEGV) stays 128+N: a core of cordon's own would be wrong. */
export function endAsTheCommand(result: { reason: string; signal: string | undefined }): void {
  const signal = result.signal as NodeJS.Signals | undefined // checked: one of ENDS_QUIETLY
  if (result.reason !== 'signal' || !signal || !ENDS_QUIETLY.has(signal)) return
  process.once('exit', () => {
    // A listener left would catch it; with none, libuv puts the default action back (Node
    // itself ignores SIGPIPE, which a listener added and removed undoes the same way).
    process.removeAllListeners(signal)
    if (signal === 'SIGPIPE') process.once(signal, () => {}).removeAllListeners(signal)
    process.kill(process.pid, signal)
  })
}
