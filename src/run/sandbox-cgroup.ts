// The cgroup of one sandbox: made before its plan is compiled (root: cordon's subtree; others:
// their delegated v2 subtree), with the policy's limits; compilePlan writes its directories as
// the launcher's first step (CompileContext.cgroups).
import {
  type Cgroup,
  type CgroupDriver,
  controllersFor,
  LIMIT_CONTROLLERS,
  type Limits,
} from '../cgroup/driver.js'
import { groupName } from '../cgroup/fs.js'
import {
  type CgroupAccess,
  type CgroupMounts,
  cgroupAccess,
  cgroupMounted,
  cgroupMounts,
  selectDriver,
} from '../cgroup/select.js'
import { CgroupV2Driver } from '../cgroup/v2.js'
import { CordonError } from '../errors.js'
import type { ResolvedPolicy } from '../policy/resolve.js'

let groups = 0
/** The cgroup mounts, read from /proc/self/mountinfo once per process (a host does not
 * remount its cgroup trees under a running program): every spawn() as root asked again. */
let hostMounts: CgroupMounts | undefined

/** A cgroup for this run when the policy limits resources (or `always`); the launcher joins
 * `cgroup.joinPaths` before start. Limits are best effort for a caller the host gives no cgroup
 * (the run reports them as not enforced; the pids limit is RLIMIT_NPROC then) unless the policy
 * requires them. */
export function makeCgroup(
  limits: ResolvedPolicy['limits'],
  always: boolean,
  required: boolean,
  version?: 1 | 2,
): { cgroup: Cgroup | undefined; access?: CgroupAccess; sweep?: () => void } {
  const resources = { ...limits }
  delete resources.timeoutMs
  const limited = Object.values(resources).some((v) => v !== undefined)
  if (!limited && !always) return { cgroup: undefined }
  let mounts: CgroupMounts | undefined // read only for root
  const access = cgroupAccess(undefined, () => cgroupMounted((mounts = hostMounts ??= cgroupMounts())))
  if (!access.ok) {
    if (limited && required)
      throw new CordonError(
        'setup_failed',
        `the policy requires its limits (limits.require, --require limits) but they cannot be enforced: ${access.why}; ` +
          'run as root, or drop the requirement to run with them best effort (reported as not enforced)',
      )
    return { cgroup: undefined, access } // best effort, reported; for freezing alone SIGSTOP will do
  }
  let cgroup: Cgroup
  let driver: CgroupDriver
  try {
    if (access.delegated) {
      // An unprivileged caller's own subtree: the limits its controllers can set; the others
      // are reported as not enforced (statementStatus), or refused when required.
      const missing = controllersFor(resources).filter((c) => !access.controllers?.includes(c))
      if (missing.length && required)
        throw new CordonError(
          'setup_failed',
          `the policy requires its limits (limits.require, --require limits) but the cgroup delegated to this user (${access.delegated}) has no ${missing.join(', ')} controller; ` +
            'delegate it (systemd: Delegate=yes), or drop the requirement',
        )
      for (const k of Object.keys(LIMIT_CONTROLLERS) as (keyof Limits)[])
        if (missing.includes(LIMIT_CONTROLLERS[k])) delete resources[k]
      driver = new CgroupV2Driver(access.delegated, access.controllers)
    } else driver = selectDriver(resources, mounts, version)
    cgroup = driver.create(groupName(++groups), resources)
  } catch (e) {
    if (limited || version) throw e
    return { cgroup: undefined, access } // only wanted for freezing: SIGSTOP will do
  }
  return { cgroup, access, sweep: () => driver.sweep(resources) }
}
