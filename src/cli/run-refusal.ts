// What `cordon run` would refuse before anything runs, asked by `cordon plan` and `cordon check`
// in the run's own words: a newcomer's `check --tmpfs ./nosuch` said "can sandbox this user"
// and listed the tmpfs as `full`, then the run refused it (helper-125).
import type { Backend } from '../backends/runtime.js'
import { CordonError } from '../errors.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { compilePlan } from '../plan/compile.js'
import { refuseUnenforced, type StatementStatus } from '../status/statements.js'
import { checkFlagSources, guardProjectDir, type PolicyFlagValues } from './policy-flags.js'
import { callerContext } from '../host/caller.js'

/** The refusal's message, or undefined when the run would start. `statements` are the policy's
 * on that backend; `here`: also what is refused of the current directory (a home, /tmp or / under
 * the default profile), a fact of where the caller stands rather than of the host or the policy.
 * Other errors (a bug, not a refusal) are thrown. */
export async function runRefusal(
  flags: PolicyFlagValues,
  policy: ResolvedPolicy,
  backend: Backend,
  statements: StatementStatus[],
  here = true,
): Promise<string | undefined> {
  try {
    if (here) guardProjectDir(flags, 'run')
    checkFlagSources(flags)
    if (backend === 'native') {
      refuseUnenforced(policy, statements)
      compilePlan(policy)
    } else {
      const { refuseUnenforcedTcp } = await import('../backends/status.js')
      const { backendConfig } = await import('../backends/runtime.js')
      refuseUnenforcedTcp(policy, statements, backend)
      const caller = callerContext()
      backendConfig(policy, ['COMMAND'], caller.uid, caller.gid, caller.cwd, backend)
    }
    return undefined
  } catch (e) {
    // Said after "cordon run refuses …:", which its own "Refused:" would repeat.
    if (e instanceof CordonError && e.code !== 'internal') return e.message.replace(/^Refused:\s*/, '')
    throw e
  }
}

/** What the run refuses of the current directory alone (guardProjectDir), or undefined. */
export function cwdRefusal(flags: PolicyFlagValues): string | undefined {
  try {
    guardProjectDir(flags, 'run')
    return undefined
  } catch (e) {
    if (e instanceof CordonError) return e.message
    throw e
  }
}
