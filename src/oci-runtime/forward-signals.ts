// How `run` and `exec` in the foreground pass their signals on to the launcher, which runs with
// --all-signals and drops the copy of one sent to the whole job (native/launcher.c is_copy).
import { forwardAll } from '../host/forward-all.js'

/** The signals Node can pass on without the addon. */
const LISTENED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM'] as const

/** Passes every signal runc would pass on to its container (native/forward-signal.h
 * forwarded_all: SIGALRM, SIGPWR and the real-time ones too, which Node cannot listen to and
 * died of, leaving the container running) to the launcher `pid`, as FORWARD_SIGNAL when
 * `queued`, by the addon's handler in C; without the addon, those Node can listen to, through
 * `kill`. The function returned stops it. */
export function passSignalsOn(
  pid: number | undefined,
  queued: boolean,
  kill: (sig: NodeJS.Signals) => void,
): () => void {
  const stop = forwardAll(pid, queued)
  if (stop) return stop
  for (const sig of LISTENED) process.on(sig, kill)
  return () => {}
}
