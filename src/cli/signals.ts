// Signals cordon passes on to the sandboxed command (run, audit, learn), so that Ctrl-C,
// a terminal resize or a service manager's stop reach the command and not only cordon.
// The launcher forwards the same list (native/launcher.c forwarded[]).
export const FORWARDED: NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
]

/** Passes FORWARDED on to `forward` from now on; the function returned stops it. */
export function forwardSignals(forward: (signal: NodeJS.Signals) => void): () => void {
  for (const s of FORWARDED) process.on(s, forward)
  return () => {
    for (const s of FORWARDED) process.off(s, forward)
  }
}
