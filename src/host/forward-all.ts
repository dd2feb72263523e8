// Every signal the launcher passes on with --all-signals (native/forward-signal.h forwarded_all),
// taken by the addon's handler in C: Node can listen to no real-time signal, and died of one
// (SIGRTMIN+3, systemd's "halt"), or of SIGPWR, where the program it runs may handle it.
import { constants } from 'node:os'
import { loadAddon } from './addon.js'

const numbers = (signals: readonly NodeJS.Signals[]) => signals.map((s) => constants.signals[s])

/** From now on, every signal of forwarded_all but `except` (which this process listens to
 * itself) is held, from before the launcher starts, until forwardAll names it: else one that
 * came in that window ended this process, and what the start had made (a container nothing
 * manages any more: helper-131) was left behind. false when the addon cannot. */
export function holdAll(except: readonly NodeJS.Signals[] = []): boolean {
  return loadAddon()?.forwardAll?.(-1, false, numbers(except)) === 0
}

/** Ends a hold that no launcher took over (the start failed): the signals take their default
 * action again, and one held takes it now. */
export function endHold(): void {
  loadAddon()?.forwardAll?.(-2, false, [])
}

/** From now on, every signal of forwarded_all but `except` (and of forwarded_sent, when another
 * process sent it) goes to the launcher `pid`, those held first: as FORWARD_SIGNAL with its
 * number when `queued` (a launcher started with it blocked), else as itself. The function
 * returned stops it, and the signals take the actions they had again (their defaults; Node's
 * ignored SIGPIPE); undefined when the addon cannot (then they end this process as before). */
export function forwardAll(
  pid: number | undefined,
  queued: boolean,
  except: readonly NodeJS.Signals[] = [],
): (() => void) | undefined {
  const addon = loadAddon()
  if (pid === undefined || !addon?.forwardAll) return undefined
  if (addon.forwardAll(pid, queued, numbers(except)) !== 0) return undefined
  return () => void addon.forwardAll?.(0, false, [])
}
