// What the gVisor backend's bundle needs beyond runc's: the seccomp profile as runsc 2022 reads
// it, and the pids limit split between gVisor's kernel and the host. runsc's own processes (the
// Sentry, the gofer, their threads, and the ptrace platform's stub processes) run in the
// sandbox's host cgroup: with the policy's limit there, runsc dies or wedges while it boots
// under a small one (a gofer refused a thread leaves the Sentry waiting for its mounts, and
// `runsc run` holding the container's lock, for ever). So the program's tasks are limited inside
// gVisor's kernel (RLIMIT_NPROC, which its Sentry enforces for every task, root without
// capabilities included), and the host cgroup bounds the whole sandbox with room for runsc
// and for the program's tasks as its platform runs them (sandboxPidsLimit).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { seccompProfile } from './model.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import type { OciProfile } from '../seccomp/oci.js'

/** What of a bundle's config gVisor's changes read or write (oci-bundle.ts OciConfig). */
interface GvisorConfig {
  process: { rlimits?: { type: string; hard: number; soft: number }[] }
  root: { path: string }
  mounts: { type: string; source: string }[]
  linux: { resources?: Record<string, unknown>; seccomp?: OciProfile }
}

/** Host tasks gVisor's own processes take in its sandbox's group before the program runs, with
 * room to spare: the gofer serves each mount on threads of its own (42 for the battery's view)
 * and the Sentry some 20 more (69 in all for the default view, measured with runsc 20221219). */
export const RUNSC_OWN_TASKS = 192
/** Host tasks each of the program's tasks may cost the sandbox: the ptrace platform runs every
 * address space in a stub process of its own, with threads (60 sleeping processes of the
 * program took 446 host tasks, 69 of them runsc's own: 6.3 each). */
export const HOST_TASKS_PER_TASK = 8

/** The sandbox's host pids limit for a program limited to `pids` tasks: room for runsc and for
 * the program's tasks as the platform runs them, but never more than half the host's pids
 * (pid_max), so that a bomb's churn of stub processes cannot take the host's (nor less than
 * the program's limit plus runsc's room). */
export function sandboxPidsLimit(pids: number, pidMax = readPidMax()): number {
  const room = RUNSC_OWN_TASKS + HOST_TASKS_PER_TASK * pids
  return Math.min(room, Math.max(pids + RUNSC_OWN_TASKS, Math.floor(pidMax / 2)))
}

function readPidMax(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) || 32768
  } catch {
    return 32768 // the kernel's default
  }
}

/** The policy's pids limit as gVisor takes it: the program's tasks in gVisor's kernel
 * (RLIMIT_NPROC, lowered to the limit when the policy sets a larger one), and the whole sandbox
 * bounded by sandboxPidsLimit in the host cgroup (when there is one). Changes config in place. */
export function splitPidsLimit(config: GvisorConfig, pids: number | undefined): void {
  if (pids === undefined) return
  const host = (config.linux.resources as { pids?: { limit: number } } | undefined)?.pids
  if (host) host.limit = sandboxPidsLimit(pids)
  const given = config.process.rlimits ?? []
  const own = given.find((r) => r.type === 'RLIMIT_NPROC')
  const hard = Math.min(pids, own?.hard ?? pids)
  config.process.rlimits = [
    ...given.filter((r) => r !== own),
    { type: 'RLIMIT_NPROC', hard, soft: Math.min(hard, own?.soft ?? hard) },
  ]
}

/** Calls that gVisor's Sentry does not implement in the releases checked here: it answers them
 * ENOSYS itself, whatever their arguments (test/conformance/backends.test.ts shows it). */
export const SENTRY_ENOSYS = ['clone3', 'openat2'] as const
/** runsc releases, up to this date, that ignore a profile's errnoRet (EPERM instead) and do not
 * implement SENTRY_ENOSYS. Debian's is 0.0~20221219. */
const ERRNORET_IGNORED_UNTIL = 20221219

/** runsc's release date (YYYYMMDD), or undefined when its version says none. */
export function runscRelease(version: string): number | undefined {
  const m = /runsc version \S*?(20\d{6})\b/.exec(version)
  return m ? Number(m[1]) : undefined
}

let sentryAnswersEnosys: boolean | undefined
/** Whether this host's runsc ignores errnoRet and answers SENTRY_ENOSYS itself. */
function runscNeedsEnosysPassThrough(program: string): boolean {
  if (sentryAnswersEnosys === undefined) {
    const r = spawnSync(program, ['--version'], { encoding: 'utf8' })
    const release = runscRelease(r.stdout ?? '')
    sentryAnswersEnosys = release !== undefined && release <= ERRNORET_IGNORED_UNTIL
  }
  return sentryAnswersEnosys
}

/** The profile as runsc must get it. The profile answers clone3 ENOSYS so that libc falls back to
 * clone, whose flags the filter can read; runsc 2022 ignores errnoRet and answers EPERM, which
 * glibc takes as a failed pthread_create. Its Sentry answers these calls ENOSYS itself, so they
 * are left to it: the program sees ENOSYS as under runc, and no namespace is made. Newer or
 * unknown releases keep the rule (safe: at worst threads fail as before). */
export function forSentry(profile: OciProfile, program: string): OciProfile {
  if (!runscNeedsEnosysPassThrough(program)) return profile
  const sentry = new Set<string>(SENTRY_ENOSYS)
  const passed = new Set<string>()
  const syscalls = (profile.syscalls ?? [])
    .map((r) => {
      if (r.action !== 'SCMP_ACT_ERRNO' || r.errnoRet !== ENOSYS || r.args?.length) return r
      r.names.filter((n) => sentry.has(n)).forEach((n) => passed.add(n))
      return { ...r, names: r.names.filter((n) => !sentry.has(n)) }
    })
    .filter((r) => r.names.length > 0)
  // An explicit allow: under a default-deny profile, an unlisted call would get the default.
  if (passed.size) syscalls.push({ names: [...passed], action: 'SCMP_ACT_ALLOW' })
  return { ...profile, syscalls }
}
const ENOSYS = 38

/** The profile gVisor gets. Without a pid namespace, cordon's filter refuses prlimit64,
 * sched_set*, setpriority and friends on any process but the caller's own, since the host's are
 * in reach (seccomp/extras.ts OUTSIDE_PROCESSES). Under gVisor they never are: its Sentry keeps
 * its own process table, and the sandbox's pid namespace, shared or not, holds the sandbox's
 * processes only. Those rules guard nothing there, and their exact OCI form (32 disjoint
 * masked comparisons per "pid is not 0") took the profile past the 4096 instructions runsc's
 * own compiler allows: `--no-namespaces` could not start ("invalid number of instructions"). */
export function sentryProfile(policy: ResolvedPolicy, profile: OciProfile, arch: string): OciProfile {
  if (policy.namespaces.pid) return profile
  return seccompProfile({ ...policy, namespaces: { ...policy.namespaces, pid: true } }, arch).profile
}

/** A bundle's config as gVisor takes it, in place (`--backend gvisor` and the export's runsc
 * config alike): the profile as its Sentry loads it (sentryProfile, forSentry with runsc at
 * `program`) and the pids limit split (splitPidsLimit). */
export function forGvisor(config: GvisorConfig, policy: ResolvedPolicy, arch: string, program: string): void {
  if (config.linux.seccomp)
    config.linux.seccomp = forSentry(sentryProfile(policy, config.linux.seccomp, arch), program)
  splitPidsLimit(config, policy.limits.pids)
}

/** The oci-bundle's config as runsc takes it, written beside the runc one (DIR/gvisor): its
 * root and bundle-relative mount sources one directory up, and forGvisor's changes. runsc
 * loads a profile only under --oci-seccomp, which the export's usage line gives; the runc
 * config's profile under it broke threads there (runsc 2022 answers clone3 EPERM, helper-141). */
export function runscConfig<C extends GvisorConfig>(
  config: C,
  policy: ResolvedPolicy,
  arch: string,
  program = 'runsc',
): C {
  const copy = structuredClone(config)
  copy.root.path = `../${copy.root.path}`
  copy.mounts = copy.mounts.map((m) =>
    m.type === 'bind' && !m.source.startsWith('/') ? { ...m, source: `../${m.source}` } : m,
  )
  forGvisor(copy, policy, arch, program)
  return copy
}
