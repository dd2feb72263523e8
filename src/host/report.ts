// Host facts → checks a person can act on: each with a status and, when missing, the fix.
import type { HostFacts, KernelProbe } from './probe.js'

export type CheckStatus = 'ok' | 'partial' | 'missing'

export interface Check {
  id: string
  title: string
  status: CheckStatus
  detail: string
  fix?: string
  /** cordon run cannot work for this user without it. */
  required: boolean
}

const MOUNT_API = ['open_tree', 'move_mount', 'mount_setattr', 'fsopen', 'openat2', 'close_range']

function userns(p: KernelProbe | undefined): boolean {
  return p?.namespaces.user?.ok === true
}

function usernsFix(f: HostFacts): string {
  const s = f.sysctls
  if (s['kernel.unprivileged_userns_clone'] === '0') return 'sysctl -w kernel.unprivileged_userns_clone=1'
  if (s['user.max_user_namespaces'] === '0') return 'sysctl -w user.max_user_namespaces=15000'
  if (s['kernel.apparmor_restrict_unprivileged_userns'] === '1')
    return 'AppArmor restricts them: add a profile for cordon-exec with `userns,` or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0'
  return 'enable CONFIG_USER_NS in the kernel'
}

export function hostChecks(f: HostFacts): Check[] {
  const p = f.probe
  const checks: Check[] = []
  const missingCalls = MOUNT_API.filter((c) => !p.syscalls[c])
  checks.push({
    id: 'mount-api',
    title: 'mount API',
    status: missingCalls.length ? 'missing' : 'ok',
    detail: missingCalls.length ? `missing ${missingCalls.join(', ')}` : MOUNT_API.join(', '),
    ...(missingCalls.length
      ? { fix: 'cordon needs Linux 5.12 or newer (mount_setattr); upgrade the kernel' }
      : {}),
    required: true,
  })
  const asUser = p.uid === 0 ? 'root' : `uid ${p.uid}`
  checks.push({
    id: 'userns',
    title: 'user namespaces',
    status: userns(p) ? 'ok' : 'missing',
    detail: userns(p)
      ? `available to ${asUser}`
      : `refused for ${asUser} (${p.namespaces.user?.code ?? '?'})`,
    ...(userns(p) ? {} : { fix: usernsFix(f) }),
    required: p.uid !== 0,
  })
  if (f.unprivileged) {
    const ok = userns(f.unprivileged)
    checks.push({
      id: 'userns-unprivileged',
      title: 'unprivileged users',
      status: ok ? 'ok' : 'missing',
      detail: ok ? 'can create user namespaces (cordon needs no setuid)' : 'cannot create user namespaces',
      ...(ok ? {} : { fix: usernsFix(f) }),
      required: false,
    })
  }
  const nsOk = Object.entries(p.namespaces).filter(([, v]) => v.ok)
  const nsBad = Object.entries(p.namespaces).filter(([, v]) => !v.ok)
  checks.push({
    id: 'namespaces',
    title: 'namespaces',
    status: nsBad.length === 0 ? 'ok' : nsOk.length ? 'partial' : 'missing',
    detail: nsBad.length
      ? `missing ${nsBad.map(([n, v]) => `${n} (${v.code})`).join(', ')}`
      : nsOk.map(([n]) => n).join(' '),
    ...(nsBad.length
      ? { fix: 'build the kernel with the matching CONFIG_*_NS options, or disable them in the policy' }
      : {}),
    required: false,
  })
  checks.push({
    id: 'seccomp',
    title: 'seccomp',
    status: p.seccomp.filter ? (p.seccomp.actions.includes('user_notif') ? 'ok' : 'partial') : 'missing',
    detail: p.seccomp.filter ? `filters; actions ${p.seccomp.actions.join(' ')}` : 'no seccomp filters',
    ...(p.seccomp.filter ? {} : { fix: 'enable CONFIG_SECCOMP_FILTER in the kernel' }),
    required: true,
  })
  const ll = p.landlock
  checks.push({
    id: 'landlock',
    title: 'Landlock',
    status: ll.abi > 0 ? 'ok' : 'missing',
    detail:
      ll.abi > 0 ? `ABI ${ll.abi}` : ll.code === 'EOPNOTSUPP' ? 'built in but not enabled' : 'not built in',
    ...(ll.abi > 0
      ? {}
      : {
          fix:
            ll.code === 'EOPNOTSUPP'
              ? 'add landlock to the lsm= kernel parameter (e.g. lsm=landlock,lockdown,yama,apparmor) and reboot'
              : 'use a kernel built with CONFIG_SECURITY_LANDLOCK=y (Linux 5.13+)',
        }),
    required: false,
  })
  const audit = p.audit
  checks.push({
    id: 'audit',
    title: 'audit',
    status: audit.enabled ? 'ok' : 'missing',
    detail: audit.enabled
      ? 'enabled: Landlock denials are reported as `denied` events (when cordon runs as root)'
      : audit.code
        ? `cannot tell as uid ${p.uid} (${audit.code}); Landlock denials are reported to root's runs only, so this user's runs report none either way`
        : 'disabled: Landlock denials are enforced but not reported',
    // Only root can read or switch it, and only root's runs read it: no fix for anyone else.
    ...(audit.enabled || audit.code ? {} : { fix: 'auditctl -e 1 (package auditd), or boot with audit=1' }),
    required: false,
  })
  // Learn and audit observe by ptrace (native/trace.h); Yama decides whether the launcher may.
  const yama = f.sysctls['kernel.yama.ptrace_scope']
  const traces = yama === undefined || yama === '0' || yama === '1' || (yama === '2' && p.uid === 0)
  checks.push({
    id: 'ptrace',
    title: 'ptrace',
    status: traces ? 'ok' : 'missing',
    detail: traces
      ? `${yama === undefined ? 'no Yama' : `Yama ptrace_scope ${yama}`}: learn and audit observe by ptrace, no call fails with EINTR for being observed`
      : `Yama ptrace_scope ${yama} keeps the launcher from tracing: learn and audit fall back to user notification, where a signal can fail an observed call with EINTR`,
    ...(traces
      ? {}
      : {
          fix:
            yama === '3'
              ? 'boot with kernel.yama.ptrace_scope=1 (3 cannot be lowered until reboot)'
              : 'sysctl -w kernel.yama.ptrace_scope=1, or learn as root',
        }),
    required: false,
  })
  // --monitor and processEvents: the connector gives each exit its code and signal (the crash
  // rule needs them); polling /proc sees a process only if it lives across a scan.
  const listens = (q: KernelProbe | undefined) => q?.procConnector
  if (listens(p) !== undefined) {
    const plain = f.unprivileged ? listens(f.unprivileged) : undefined
    const how = (ok: boolean | undefined) =>
      ok
        ? 'from the proc connector, with exit codes and signals'
        : 'by polling /proc: exits without code or signal'
    checks.push({
      id: 'process-events',
      title: 'process events',
      status: 'ok',
      detail:
        plain === undefined || plain === listens(p)
          ? how(listens(p))
          : `${how(listens(p))}; for plain users ${how(plain)} (this kernel keeps the connector to root)`,
      required: false,
    })
  }
  const cg = f.cgroup
  // v1 groups are joined by writing the pid (a move); v2's by clone3 into the group, no move.
  const slowMoves = (cg.layout === 'v1' || cg.layout === 'hybrid') && cg.favorDynmods === false
  checks.push({
    id: 'cgroups',
    title: 'cgroups',
    status: cg.layout === 'none' ? 'missing' : 'ok',
    detail:
      cg.layout === 'none'
        ? 'no cgroup file system mounted'
        : `${cg.layout}; v1: ${cg.v1Controllers.join(' ') || '-'}; v2: ${cg.v2Controllers.join(' ') || '-'}` +
          (cg.v1Controllers.includes('blkio') && !cg.blkioWeight
            ? '; v1 blkio takes no io-weight here (no BFQ I/O scheduler)'
            : '') +
          (slowMoves ? `; ${SLOW_MOVES}` : ''),
    ...(cg.layout === 'none'
      ? { fix: 'mount cgroup2 on /sys/fs/cgroup' }
      : slowMoves
        ? { fix: favorDynmodsFix(cg.v2Mount) }
        : {}),
    required: false,
  })
  const tiocsti = f.sysctls['dev.tty.legacy_tiocsti']
  if (tiocsti !== undefined)
    checks.push({
      id: 'tiocsti',
      title: 'TIOCSTI',
      status: 'ok',
      detail:
        tiocsti === '0'
          ? 'disabled host-wide'
          : 'enabled host-wide; cordon denies it in every sandbox by seccomp',
      required: false,
    })
  checks.push(...batteryFacts(f))
  return checks
}

/** Measured on a 6.18 VM (README, Benchmarks): a first move 4.6-20.6 ms at one time and 0.4-0.6
 * ms at another, by the kernel's state; with favordynmods 0.4 ms. The launcher overlaps it with
 * the view's build (native/launcher.c). */
const SLOW_MOVES =
  "each sandbox with limits is moved into its v1 groups, which waits for an RCU grace period without favordynmods (up to 20 ms measured, partly overlapped with the view's build)"

function favorDynmodsFix(v2Mount: string | undefined): string {
  return v2Mount
    ? `for faster starts with limits: mount -o remount,favordynmods ${v2Mount} (kernel-wide; forks and exits cost a little more)`
    : 'for faster starts with limits: mount -t cgroup -o none,name=favordynmods,favordynmods cgroup DIR (the option is kernel-wide; forks and exits cost a little more)'
}

/** What `cordon verify` relies on that differs between hosts: the 32-bit entry points and the
 * kernel's own switches for interfaces the battery attacks. None is required: an absent entry
 * is nothing to attack, and the filter refuses these interfaces whatever the switches say. */
function batteryFacts(f: HostFacts): Check[] {
  const out: Check[] = []
  const { i386Entry, x32Entry } = f.probe
  if (i386Entry !== null)
    out.push({
      id: 'i386-entry',
      title: 'i386 entry',
      status: 'ok',
      detail: i386Entry
        ? 'int 0x80 works (IA-32 emulation): the filter judges it with the i386 table'
        : 'absent: int 0x80 faults (no IA-32 emulation), so there is nothing to filter; verify reports its probe as not applicable',
      required: false,
    })
  if (x32Entry !== undefined && x32Entry !== null)
    out.push({
      id: 'x32-entry',
      title: 'x32 ABI',
      status: 'ok',
      detail: x32Entry
        ? 'answers: the filter kills x32 syscall numbers'
        : 'absent (ENOSYS); the filter kills x32 numbers anyway, before the kernel looks, and verify checks that',
      required: false,
    })
  const s = f.sysctls
  const knobs = [
    ['kernel.io_uring_disabled', 'io_uring'],
    ['vm.unprivileged_userfaultfd', 'userfaultfd'],
    ['kernel.perf_event_paranoid', 'perf_event'],
    ['kernel.unprivileged_bpf_disabled', 'bpf'],
  ].filter(([name]) => s[name!] !== undefined)
  if (knobs.length)
    out.push({
      id: 'kernel-knobs',
      title: 'kernel switches',
      status: 'ok',
      detail: `${knobs.map(([name, what]) => `${what} ${name}=${s[name!]}`).join(', ')}; the default filter refuses these interfaces whatever they say`,
      required: false,
    })
  return out
}
