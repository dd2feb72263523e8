// Every signal the launcher passes on with --all-signals (native/forward-signal.h forwarded_all),
// taken by the addon's handler in C: Node can listen to no real-time signal, and died of one
// (SIGRTMIN+3, systemd's "halt"), or of SIGPWR, where the program it runs may handle it.
import { constants } from 'node:os'
import { loadAddon } from './addon.js'

/** From now on, every signal of forwarded_all but `except` (which this process listens to
 * itself) goes to the launcher `pid`: as FORWARD_SIGNAL with its number when `queued` (a
 * launcher started with it blocked), else as itself. The function returned stops it, and the
 * signals take their default action again; undefined when the addon cannot (then they end this
 * process as before). */
export function forwardAll(
  pid: number | undefined,
  queued: boolean,
  except: readonly NodeJS.Signals[] = [],
): (() => void) | undefined {
  const addon = loadAddon()
  if (pid === undefined || !addon?.forwardAll) return undefined
  if (
    addon.forwardAll(
      pid,
      queued,
      except.map((s) => constants.signals[s]),
    ) !== 0
  )
    return undefined
  return () => void addon.forwardAll?.(0, false, [])
}
