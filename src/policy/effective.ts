// What a policy enforces, as one value: the seccomp filter with every layer the plan compiler
// adds, the rlimits with the pids limit as RLIMIT_NPROC, the limits. Export, verify, learn,
// report, diff, status and the seccomp CLI ask here, not the plan compiler, so that none of them
// describes a filter other than the one the launcher loads (exports: exportedSeccomp, the same
// without the guard of cordon's own init).
import { type SeccompExtra, SECCOMP_EXTRAS } from '../seccomp/extras.js'
import type { SeccompSpec } from '../seccomp/model.js'
import { networkLayers } from '../seccomp/network.js'
import { resolveSeccomp } from '../seccomp/resolve.js'
import type { ResolvedPolicy } from './resolve.js'

/** What a policy enforces for a caller. */
export interface Enforcement {
  /** The seccomp layers the filter is compiled from (the policy's, then the compiler's). */
  seccompLayers: ResolvedPolicy['seccomp']
  /** The names of the layers the compiler appends, in order. */
  seccompExtras: SeccompExtra[]
  /** The filter, resolved (computed on first use). */
  readonly seccomp: SeccompSpec
  /** The rlimits the plan sets (rlimitsFor). */
  rlimits: Record<string, number>
  /** Whether the pids limit is also RLIMIT_NPROC (pidsAsNproc). */
  pidsAsNproc: boolean
  limits: ResolvedPolicy['limits']
  /** The sandbox keeps host root's file permissions (holdsHostRoot). */
  hostRoot: boolean
}

/** Everything a policy enforces, for the caller `uid` (rlimits depend on it). */
export function enforcement(policy: ResolvedPolicy, uid: number = process.getuid?.() ?? 0): Enforcement {
  const extras = launcherSeccompExtras(policy)
  const layers = withExtras(policy.seccomp, extras)
  let spec: SeccompSpec | undefined
  return {
    seccompLayers: layers,
    seccompExtras: extras,
    get seccomp() {
      return (spec ??= resolveSeccomp(layers))
    },
    rlimits: rlimitsFor(policy, uid),
    pidsAsNproc: pidsAsNproc(policy, uid),
    limits: policy.limits,
    hostRoot: holdsHostRoot(policy),
  }
}

/** The filter a policy's sandbox loads, resolved: `enforcement(policy).seccomp` without the rest. */
export const enforcedSeccomp = (policy: ResolvedPolicy): SeccompSpec =>
  resolveSeccomp(enforcedSeccompLayers(policy))

/** The filter an export states (an OCI profile, a runtime backend's bundle, systemd's
 * SystemCallFilter=): the sandbox's, without the init guard: pid 1 there is the program, or a
 * runtime backend's cordon-init, which neither counts spawns nor freezes. */
export const exportedSeccomp = (policy: ResolvedPolicy): SeccompSpec =>
  resolveSeccomp(exportedSeccompLayers(policy))

/** The policy without its `tcp:` section: audit's Landlock rules (plan/compile.ts), and the
 * filter audit tells that section's refusals by (learn/audit.ts). */
export function withoutTcp(policy: ResolvedPolicy): ResolvedPolicy {
  const copy = { ...policy }
  delete copy.tcp
  return copy
}

/** A root caller's sandbox that keeps host root's file permissions: `user.hostRoot` and uid 0
 * (inside its user namespace, or on the host without one). Said loudly by every report. */
export const holdsHostRoot = (policy: ResolvedPolicy): boolean =>
  policy.user.hostRoot === true && (policy.user.uid ?? 0) === 0

/** The policy's rlimits, RLIMIT_RTPRIO and RLIMIT_NICE 0 (NO_RAISED_PRIORITY), and the pids limit as RLIMIT_NPROC for
 * callers other than root: they get no cgroup, and inside their own user namespace the kernel
 * counts RLIMIT_NPROC per user of that namespace (5.14+), so it bounds the sandbox's tasks and
 * nothing outside. Root is exempt from RLIMIT_NPROC; its pids limit is the cgroup's. */
export function rlimitsFor(policy: ResolvedPolicy, uid: number, notes?: string[]): Record<string, number> {
  const pids = policy.limits.pids
  const own = policy.rlimits.nproc
  if (pids === undefined || !pidsAsNproc(policy, uid) || (own !== undefined && own <= pids))
    return { ...policy.rlimits, ...NO_RAISED_PRIORITY }
  notes?.push(`limits: pids ${pids} also as RLIMIT_NPROC, counted per user inside the user namespace`)
  return { ...policy.rlimits, nproc: pids, ...NO_RAISED_PRIORITY }
}

/** No real-time scheduling and no nice below the one it starts with, whatever the caller's
 * limits (PAM gives the audio group rtprio 95, limits.conf and systemd's LimitRTPRIO=/LimitNICE=
 * raise them): a SCHED_FIFO task runs before every normal one, past the CPU quota (CFS bandwidth
 * does not apply to it), and both run past init, which counts the spawns and freezes.
 * systemd's RestrictRealtime=yes as rlimits: only CAP_SYS_NICE passes them. */
export const NO_RAISED_PRIORITY = { rtprio: 0, nice: 0 } as const

/** The rlimits an export states where its target counts tasks itself (Docker's --pids-limit,
 * systemd's TasksMax=): the policy's, and NO_RAISED_PRIORITY. */
export const exportRlimits = (policy: ResolvedPolicy): Record<string, number> => ({
  ...policy.rlimits,
  ...NO_RAISED_PRIORITY,
})

/** Whether a pids limit holds as RLIMIT_NPROC for this caller (see rlimitsFor). */
export const pidsAsNproc = (policy: ResolvedPolicy, uid: number): boolean =>
  policy.limits.pids !== undefined && policy.namespaces.user && uid !== 0

/** The seccomp layers the filter is compiled from: the policy's, plus the network layers
 * (seccomp/network.ts: TCP_ONLY with `tcp:`, NET_FAMILIES when the network is limited) and
 * HOST_NETWORK_GUARD when the sandbox shares the host's network namespace; OUTSIDE_PROCESSES
 * without a pid namespace, INIT_GUARD with one (launcherSeccompExtras). */
export function enforcedSeccompLayers(policy: ResolvedPolicy): ResolvedPolicy['seccomp'] {
  return withExtras(policy.seccomp, launcherSeccompExtras(policy))
}

/** exportedSeccomp's layers. */
export function exportedSeccompLayers(policy: ResolvedPolicy): ResolvedPolicy['seccomp'] {
  return withExtras(policy.seccomp, seccompExtras(policy))
}

export const withExtras = (own: ResolvedPolicy['seccomp'], extras: readonly SeccompExtra[]) =>
  extras.length ? [...own, ...extras.map((name) => SECCOMP_EXTRAS[name])] : own

/** The layers the native launcher's filter has: seccompExtras(), and where the sandbox has its
 * own pid namespace (whose pid 1 is cordon's init, which counts the spawns and freezes; in an
 * export pid 1 is the program, or a runtime backend's cordon-init, which does neither) the init guard, before the set-id guard. The plan says so to the
 * launcher, which then stacks no guard of its own (native/init-guard.h). */
export function launcherSeccompExtras(policy: ResolvedPolicy): SeccompExtra[] {
  const extras = seccompExtras(policy)
  return policy.namespaces.pid ? [...extras.slice(0, -1), 'init-guard', ...extras.slice(-1)] : extras
}

/** The layers the compiler adds, by name, in the order they are appended (also the suffix of
 * their precompiled built-in filters: `x64:default+host-network+no-setid`). `no-setid` is in
 * every filter and always last, so no rule of a policy can undo it. */
export function seccompExtras(policy: ResolvedPolicy): SeccompExtra[] {
  return [
    ...networkLayers(policy),
    ...(policy.namespaces.net ? [] : ['host-network' as const]),
    ...(policy.namespaces.pid ? [] : ['outside-processes' as const]),
    'no-setid' as const,
  ]
}
