// A signal that would end cordon while it starts a sandbox: the start makes the sandbox's cgroup
// and registry record a moment before the go, and Node's default action ended cordon between
// the two, leaving both to the next run's sweep or `ps` (helper-114). For the start alone (a
// synchronous span: nothing else runs, no read that waits on the caller), listeners hold such a
// signal; it is taken from the event loop, once the start has returned and its forwarding is in
// place, which sends it on to the command. Held any earlier, a signal waited behind whatever
// blocked cordon (a policy read from a FIFO or a terminal: helper-117), and Ctrl-C did nothing.

import { endHold, holdAll } from './forward-all.js'

/** The forwarded signals whose default action ends a process. SIGUSR1 is Node's (the inspector). */
const HELD: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2']
const START_GUARD = Symbol.for('cordon.start-guard')

/** Holds HELD (and the addon the rest but `forwarded`, the signals this process listens to) from
 * now until releaseStartGuard (the forwarding's install), or until the next turn
 * of the event loop. A signal that came meanwhile is taken at that turn: by the forwarding, which
 * sends it to the command (one that already ended, a quick one, is as if the signal had come a
 * moment later: the run ends as the command did; a start that failed after the go ends 125), or,
 * with no forwarding (a start that failed before it), by the guard, which takes the default
 * action then. Either way cordon ends, and what the start made goes with the run. */
export function holdStartSignals(forwarded: readonly NodeJS.Signals[]): void {
  for (const signal of HELD) {
    if (process.listeners(signal).some(isGuard)) continue
    const guard = () => {
      // Someone else listens (the command's forwarding): theirs to handle.
      if (process.listenerCount(signal) > 1) return
      // With no listener left, libuv puts the default action back, and the signal takes it.
      process.removeListener(signal, guard)
      process.kill(process.pid, signal)
    }
    ;(guard as { [START_GUARD]?: boolean })[START_GUARD] = true
    process.on(signal, guard)
  }
  // Every other signal the launcher passes on (SIGALRM, SIGPWR, the real-time ones: Node listens
  // to none) is held by the addon's handler, which the forwarding's install takes over
  // (host/forward-all.ts).
  holdAll(forwarded)
  // A turn of the loop reads the signals that came (its poll phase) before it runs this (its
  // check phase): the guards answer those first, then go.
  setImmediate(releaseStartGuard)
}

const isGuard = (listener: unknown) => (listener as { [START_GUARD]?: boolean })[START_GUARD] === true

/** Removes the start guard's listeners, if this process has them. */
export function releaseStartGuard(): void {
  for (const signal of HELD)
    for (const listener of process.listeners(signal))
      if (isGuard(listener)) process.removeListener(signal, listener as () => void)
  endHold()
}
