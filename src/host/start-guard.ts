// The other half of bin/cordon.cjs guardStart(): the listeners it put on the signals that end
// cordon hold such a signal until the sandbox's start is over. Once the start installs its
// forwarding, they go: left, a signal after the run (cordon's last lines, a wait for a stopped
// terminal) would wait for the event loop instead of ending cordon as it always has.

const START_GUARD = Symbol.for('cordon.start-guard')

/** Removes the start guard's listeners, if this process has them (a library caller has none). */
export function releaseStartGuard(signals: readonly NodeJS.Signals[]): void {
  for (const signal of signals)
    for (const listener of process.listeners(signal))
      if ((listener as { [START_GUARD]?: boolean })[START_GUARD]) process.removeListener(signal, listener)
}
