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

/** The message of the refusal `step` throws (a CordonError), or undefined when it returns. Other
 * errors (a bug, not a refusal) are thrown. */
export async function refusalOf(step: () => unknown): Promise<string | undefined> {
  try {
    await step()
    return undefined
  } catch (e) {
    // Said after "cordon run refuses …:", which its own "Refused:" would repeat.
    if (e instanceof CordonError && e.code !== 'internal') return e.message.replace(/^Refused:\s*/, '')
    throw e
  }
}

/** The run's refusal, or undefined when it would start. `statements` are the policy's on that
 * backend. `here`: also what is refused of the current directory (a home, /tmp or / under the
 * default profile), a fact of where the caller stands rather than of the host or the policy.
 * `build`: also build what the run starts (the plan, the runtime's bundle), which refuses what
 * the host makes unsafe; false for a caller that builds it itself. */
export function runRefusal(
  flags: PolicyFlagValues,
  policy: ResolvedPolicy,
  backend: Backend,
  statements: StatementStatus[],
  { here = true, build = true }: { here?: boolean; build?: boolean } = {},
): Promise<string | undefined> {
  return refusalOf(async () => {
    if (here) guardProjectDir(flags, 'run')
    checkFlagSources(flags)
    if (backend === 'native') {
      refuseUnenforced(policy, statements)
      if (build) compilePlan(policy)
      return
    }
    const { refuseUnenforcedOnBackend } = await import('../backends/status.js')
    refuseUnenforcedOnBackend(policy, statements, backend)
    if (!build) return
    const { backendConfig } = await import('../backends/runtime.js')
    const caller = callerContext()
    backendConfig(policy, ['COMMAND'], caller.uid, caller.gid, caller.cwd, backend)
  })
}

/** What the run refuses of the current directory alone (guardProjectDir), or undefined. */
export const cwdRefusal = (flags: PolicyFlagValues): Promise<string | undefined> =>
  refusalOf(() => guardProjectDir(flags, 'run'))
