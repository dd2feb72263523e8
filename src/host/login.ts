// The caller's login name, which a run's USER and LOGNAME come from.
import { userInfo } from 'node:os'

let login: string | null | undefined

/** This process's user name (os.userInfo: its passwd entry, through NSS); null for a uid
 * without one (a container's arbitrary uid). Asked once per process: the compile and the entry
 * the run command files for the lean path (run/plan-cache.ts) hold the same answer. */
export function callerLogin(): string | null {
  if (login === undefined)
    try {
      login = userInfo().username || null
    } catch {
      login = null
    }
  return login
}
