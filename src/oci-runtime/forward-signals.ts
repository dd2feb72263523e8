// How `run` and `exec` in the foreground pass their signals on to the launcher, which runs with
// --all-signals and drops the copy of one sent to the whole job (native/launcher.c is_copy).
import { endHold, forwardAll, holdAll } from '../host/forward-all.js'

/** The signals a detached exec passes on while its launcher starts (which blocks the same). */
export const LAUNCHER_OWN = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const

/** The signals Node can pass on without the addon. */
const LISTENED = [...LAUNCHER_OWN, 'SIGALRM'] as const

/** Every signal runc would pass on to its container (native/forward-signal.h forwarded_all:
 * SIGALRM, SIGPWR and the real-time ones too, which Node cannot listen to and died of, leaving
 * the container running), held from now on by the addon's handler in C. */
export interface Forwarding {
  /** Passes them on from now on, those held first, to the launcher `pid`, as FORWARD_SIGNAL
   * when `queued`; without the addon, those Node can listen to, through `kill`. Until its end,
   * as runc passes them on until it exits: one after the launcher's end goes nowhere. */
  to(pid: number | undefined, queued: boolean, kill: (sig: NodeJS.Signals) => void): void
  /** Where no launcher started (a failed start): the actions they had back, and a signal held
   * takes its own now. */
  end(): void
}

export function holdSignals(): Forwarding {
  const holding = holdAll()
  return {
    to(pid, queued, kill) {
      if (holding && forwardAll(pid, queued)) return
      for (const sig of LISTENED) process.on(sig, kill)
    },
    end: () => endHold(),
  }
}
