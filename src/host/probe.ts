// What this host offers, asked of the kernel by `cordon-exec --probe` (run as this user and, for
// root, as an unprivileged user too) plus the sysctls and mounts that explain a refusal.
import { readdirSync, readFileSync } from 'node:fs'
import { arch, release } from 'node:os'
import { launcherPath } from './launcher.js'
import { childProcess } from '../builtin.js'

interface ErrnoResult {
  errno?: number
  code?: string
}

/** The probe table: every fact `cordon-exec --probe` (native/probe.c) reports, by name. It is the
 * one definition of that contract: `satisfies` holds it to KernelProbe below, and
 * test/architecture/contracts.test.ts holds probe.c's source and the launcher's output to it.
 * A new fact is a row here, a field in KernelProbe, and its printf in probe.c. */
export const PROBE_TABLE = {
  /** Bumped when a fact changes meaning or goes away (adding one does not). */
  version: 1,
  facts: [
    'version',
    'uid',
    'namespaces',
    'syscalls',
    'landlock',
    'seccomp',
    'audit',
    'i386Entry',
    'x32Entry',
    'procConnector',
  ],
  namespaces: ['user', 'pid', 'mount', 'ipc', 'uts', 'net', 'cgroup', 'time'],
  syscalls: ['open_tree', 'move_mount', 'mount_setattr', 'fsopen', 'openat2', 'close_range', 'pidfd_open'],
  /** Seccomp return actions asked with SECCOMP_GET_ACTION_AVAIL; the available ones are listed. */
  seccompActions: ['kill_process', 'kill_thread', 'trap', 'errno', 'user_notif', 'trace', 'log', 'allow'],
  /** Keys inside the facts that are objects (namespaces.*, landlock, seccomp, audit). */
  fields: ['ok', 'errno', 'code', 'abi', 'filter', 'actions', 'enabled'],
} as const satisfies {
  version: number
  facts: readonly (keyof KernelProbe)[]
  namespaces: readonly string[]
  syscalls: readonly string[]
  seccompActions: readonly string[]
  fields: readonly (keyof ErrnoResult | 'ok' | 'abi' | 'filter' | 'actions' | 'enabled')[]
}

/** The launcher's --probe output (native/probe.c), as PROBE_TABLE lists it. */
export interface KernelProbe {
  version: (typeof PROBE_TABLE)['version']
  uid: number
  namespaces: Record<string, { ok: boolean } & ErrnoResult>
  syscalls: Record<string, boolean>
  landlock: { abi: number } & ErrnoResult
  seccomp: { filter: boolean; actions: string[] }
  /** enabled: 0 off, 1 on, 2 locked; or the errno when this user may not ask. */
  audit: { enabled?: number } & ErrnoResult
  /** x86_64: whether the i386 entry point (int 0x80) works here; null elsewhere. */
  i386Entry: boolean | null
  /** x86_64: whether the x32 ABI answers here; null elsewhere (absent from older launchers). */
  x32Entry?: boolean | null
  /** Whether this user may listen to the kernel's proc connector: process events then carry exit
   * codes and signals; otherwise the launcher polls /proc (absent from older launchers). */
  procConnector?: boolean
}

export type CgroupLayout = 'v2' | 'v1' | 'hybrid' | 'none'

export interface HostFacts {
  kernel: string
  arch: string
  probe: KernelProbe
  /** Probe as an unprivileged user (uid 65534), when we are root; else undefined. */
  unprivileged: KernelProbe | undefined
  sysctls: Record<string, string | undefined>
  cgroup: {
    layout: CgroupLayout
    v1Controllers: string[]
    v2Controllers: string[]
    /** v1's blkio takes an io-weight here (blkioWeightAvailable). */
    blkioWeight: boolean
    /** A cgroup mount has `favordynmods`: a process moved between groups waits for no RCU grace
     * period (absent from facts read by older versions). */
    favorDynmods?: boolean
    /** Where cgroup2 is mounted, if it is. */
    v2Mount?: string
  }
}

export function probeKernel(uid?: number): KernelProbe {
  const out = childProcess().execFileSync(launcherPath(), ['--probe'], {
    encoding: 'utf8',
    ...(uid !== undefined ? { uid, gid: uid } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return JSON.parse(out) as KernelProbe
}

function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** The cgroup file systems mounted here: the first cgroup2 mount, and each v1 mount's options. */
export function cgroupMountEntries(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): {
  v2?: string
  v2Options?: string[]
  v1: { mountPoint: string; options: string[] }[]
} {
  const out: { v2?: string; v2Options?: string[]; v1: { mountPoint: string; options: string[] }[] } = {
    v1: [],
  }
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!left || !right) continue
    const mountPoint = left.split(' ')[4]!
    const [fstype, , superOptions] = right.split(' ')
    if (fstype === 'cgroup2' && !out.v2) {
      out.v2 = mountPoint
      out.v2Options = (superOptions ?? '').split(',')
    }
    if (fstype === 'cgroup') out.v1.push({ mountPoint, options: (superOptions ?? '').split(',') })
  }
  return out
}

const FAVOR_DYNMODS = 'favordynmods'

/** Reads the cgroup mounts: v2 alone, v1 alone, or both (hybrid). */
export function cgroupLayout(mountinfo?: string): HostFacts['cgroup'] {
  const mounts = cgroupMountEntries(mountinfo)
  const v1 = mounts.v1.flatMap((m) =>
    m.options.filter(
      (opt) =>
        !['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec', FAVOR_DYNMODS].includes(opt) &&
        !opt.startsWith('release_agent'),
    ),
  )
  let v2Controllers: string[] = []
  if (mounts.v2)
    try {
      v2Controllers = readFileSync(`${mounts.v2}/cgroup.controllers`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
    } catch {}
  const layout: CgroupLayout =
    mounts.v2 && v1.length ? 'hybrid' : mounts.v2 ? 'v2' : v1.length ? 'v1' : 'none'
  return {
    layout,
    v1Controllers: v1,
    v2Controllers,
    blkioWeight: v1.includes('blkio') && blkioWeightAvailable(),
    // One mount with it puts the kernel-wide threadgroup rwsem in the mode that makes moves cheap.
    ...(mounts.v2 ? { v2Mount: mounts.v2 } : {}),
    favorDynmods: [mounts.v2Options ?? [], ...mounts.v1.map((m) => m.options)].some((o) =>
      o.includes(FAVOR_DYNMODS),
    ),
  }
}

/** Whether v1's blkio can take a weight here: only an I/O scheduler with a cgroup policy (BFQ,
 * or CFQ before Linux 5.0) adds the weight file to blkio's groups, and it registers both at
 * once, so the schedulers the block devices may choose tell without making a group. */
export function blkioWeightAvailable(sysBlock = '/sys/block'): boolean {
  let devices: string[]
  try {
    devices = readdirSync(sysBlock)
  } catch {
    return false
  }
  return devices.some((d) => {
    try {
      return /(^|[\s[])(bfq|cfq)([\s\]]|$)/.test(readFileSync(`${sysBlock}/${d}/queue/scheduler`, 'utf8'))
    } catch {
      return false
    }
  })
}

export function hostFacts(): HostFacts {
  const probe = probeKernel()
  let unprivileged: KernelProbe | undefined
  if (probe.uid === 0)
    try {
      unprivileged = probeKernel(65534)
    } catch {
      unprivileged = undefined
    }
  const sysctls: Record<string, string | undefined> = {}
  for (const name of [
    'kernel.unprivileged_userns_clone',
    'user.max_user_namespaces',
    'kernel.apparmor_restrict_unprivileged_userns',
    'kernel.yama.ptrace_scope',
    'dev.tty.legacy_tiocsti',
    // Kernel interfaces the battery attacks; these decide whether the kernel refuses them first.
    'kernel.io_uring_disabled',
    'vm.unprivileged_userfaultfd',
    'kernel.perf_event_paranoid',
    'kernel.unprivileged_bpf_disabled',
  ])
    sysctls[name] = readSysctl(name)
  return { kernel: release(), arch: arch(), probe, unprivileged, sysctls, cgroup: cgroupLayout() }
}
