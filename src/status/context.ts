// The host facts a status judgement needs, gathered once per command: who the caller is, what
// the kernel offers (probeKernel), and whether the caller gets a cgroup (cgroupAccess). Commands
// build one HostContext and pass it down, instead of each asking the host again.
import { type CgroupAccess, cgroupAccess } from '../cgroup/select.js'
import { type KernelProbe, probeKernel } from '../host/probe.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { type StatementStatus, statementStatus } from './statements.js'

/** Who runs sandboxes on this host, and what the host gives them. */
export interface HostContext {
  uid: number
  probe: KernelProbe
  /** Landlock ABI of this kernel (0 without), and why it is missing. */
  landlock: { abi: number; why: string }
  cgroup: CgroupAccess
}

/** The context of this process; `probe` when the caller has already probed the kernel. */
export function hostContext(
  probe: KernelProbe = probeKernel(),
  uid: number = process.getuid?.() ?? 0,
): HostContext {
  return {
    uid,
    probe,
    landlock: { abi: probe.landlock.abi, why: `Landlock unavailable (${probe.landlock.code ?? '?'})` },
    cgroup: cgroupAccess(uid),
  }
}

/** Every statement of the policy with its status on this host. */
export const enforcementStatus = (policy: ResolvedPolicy, host: HostContext): StatementStatus[] =>
  statementStatus(policy, host.landlock.abi, host.landlock.why, host)
