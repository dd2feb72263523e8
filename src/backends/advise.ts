// `cordon advise`: the brief's selection matrix (finance-grade → micro-VM + seccomp, web front
// end → the default container isolation, …) turned into a recommendation for this host: which
// backend, which layers to require, what the host lacks, and what it costs — from the numbers
// bench/backends.mjs measured. Pure: the host's facts come in, the reasoning goes out.

export const WORKLOADS = ['web', 'batch', 'finance', 'untrusted-code', 'io-heavy'] as const
export type Workload = (typeof WORKLOADS)[number]

/** What `advise` needs to know of the host (src/cli/commands/advise.ts asks the kernel). */
export interface AdviceHost {
  root: boolean
  landlockAbi: number
  userNamespaces: boolean
  cgroup: { ok: boolean; why: string }
  runc: { ok: boolean; why: string }
  gvisor: { ok: boolean; why: string }
  /** /dev/kvm usable: what Kata Containers and Firecracker need. */
  kvm: boolean
}

export type Choice = 'native' | 'runc' | 'gvisor' | 'micro-vm'

export interface Advice {
  workload: Workload
  /** What the workload needs most, in a sentence. */
  needs: string
  choice: Choice
  /** Why this backend (and why not the others) for this workload, on this host. */
  reasons: string[]
  /** The cordon command line that realizes it here (a micro-VM: how to get there). */
  command: string
  /** What this host lacks for the ideal setup, with what to do. */
  lacks: string[]
  /** Expected cost against the native backend, from bench/backends.mjs. */
  overhead: string
}

/** Medians from `node bench/backends.mjs` (the README's table; 15 rounds): 2-core VM, Linux
 * 6.18, runc 1.1.5, runsc 20221219 on its ptrace platform. Ratios are × native's cost. */
export const MEASURED = {
  startupMs: { native: 7.4, runc: 43.2, gvisor: 182.7 },
  syscallX: { native: 1, runc: 0.74, gvisor: 27.6 },
  fileX: { native: 1, runc: 0.66, gvisor: 44.6 },
  ioX: { native: 1, runc: 0.94, gvisor: 1.08 },
} as const

const NEEDS: Record<Workload, string> = {
  web: 'a long-running service on a hot syscall path: low per-call cost, TCP ports, persistence',
  batch: 'jobs that start often and compute: start-up latency and hard resource limits',
  finance: 'the strongest isolation a regulator accepts: a hardware boundary plus a syscall filter',
  'untrusted-code':
    'code nobody reviewed (plugins, CI jobs, AI-generated code): no kernel exposure, no network',
  'io-heavy': 'throughput on files and disks: no per-operation tax on the I/O path',
}

const times = (x: number) => `${+x.toFixed(2)}×`

function cost(choice: Choice): string {
  const m = MEASURED
  switch (choice) {
    case 'native':
      return (
        `start-up ${m.startupMs.native} ms; compute and sequential I/O at host speed; Landlock's path checks ` +
        `make open-heavy loops ${times(1 / m.fileX.runc)} what runc (no Landlock) pays`
      )
    case 'runc':
      return `start-up ${m.startupMs.runc} ms (${times(m.startupMs.runc / m.startupMs.native)} native); syscalls and I/O at host speed`
    case 'gvisor':
      return (
        `start-up ${m.startupMs.gvisor} ms (${times(m.startupMs.gvisor / m.startupMs.native)} native); syscalls ` +
        `${times(m.syscallX.gvisor)}, file opens ${times(m.fileX.gvisor)}, sequential I/O ${times(m.ioX.gvisor)} ` +
        'native (ptrace platform; its KVM platform is faster where it runs)'
      )
    case 'micro-vm':
      return (
        'not measured by bench/backends (Kata and Firecracker are not in Debian’s archive); published ' +
        'figures: ~125 ms boot (Firecracker), near-native compute, virtio I/O'
      )
  }
}

/** `cordon run` flags for a choice: the profile and what to require. */
function runCommand(choice: Choice, host: AdviceHost, extra: string[]): string {
  const flags = [
    ...(choice === 'native' || choice === 'micro-vm' ? [] : [`--backend ${choice}`]),
    ...(choice === 'native' && host.landlockAbi > 0 ? ['--require landlock'] : []),
    ...(host.cgroup.ok ? ['--require limits'] : []),
    ...extra,
  ]
  return `cordon run ${flags.join(' ')} -- COMMAND`.replace(/ +/g, ' ')
}

export function advise(workload: Workload, host: AdviceHost): Advice {
  const lacks: string[] = []
  if (host.landlockAbi === 0)
    lacks.push(
      'Landlock: the filesystem and port rules rest on the mount view alone (boot with lsm=…,landlock)',
    )
  if (!host.userNamespaces && !host.root)
    lacks.push('unprivileged user namespaces: the native backend falls back to --no-namespaces')
  if (!host.cgroup.ok)
    lacks.push(`a cgroup for this caller (${host.cgroup.why}): memory and CPU limits are not enforced`)
  const reasons: string[] = []
  let choice: Choice
  switch (workload) {
    case 'web':
      choice = 'native'
      reasons.push(
        'every layer at once, Landlock included (TCP bind/connect ports per statement), at host syscall speed',
        `gVisor would tax each request's syscalls ${times(MEASURED.syscallX.gvisor)} on its ptrace platform`,
        'runc adds nothing cordon lacks and has no Landlock; use it only to match an existing container fleet (cordon export --to docker|kubernetes)',
        'persist it with cordon export --to systemd --wrap',
      )
      break
    case 'batch':
      choice = 'native'
      reasons.push(
        `start-up ${MEASURED.startupMs.native} ms against ${MEASURED.startupMs.runc} ms (runc) and ${MEASURED.startupMs.gvisor} ms (gVisor): for jobs started often the launcher's speed is the cost`,
        'hard limits need the cgroup: require them so a job cannot run unbounded',
      )
      if (!host.cgroup.ok)
        reasons.push('without a cgroup here, run batch jobs as root or on a host with delegated cgroups')
      break
    case 'finance':
      if (host.kvm) {
        choice = 'micro-vm'
        reasons.push(
          'a hardware boundary (Kata Containers or Firecracker) with cordon’s seccomp profile inside the guest',
          'export the filter with cordon export --to oci-seccomp for the guest runtime',
        )
      } else {
        choice = host.gvisor.ok ? 'gvisor' : 'native'
        lacks.push(
          '/dev/kvm: no micro-VM (Kata, Firecracker) on this host; run finance workloads on a host with KVM',
        )
        reasons.push(
          'a micro-VM is what the matrix asks for, and this host cannot run one',
          choice === 'gvisor'
            ? 'the next strongest boundary here: gVisor’s user-space kernel, with cordon’s seccomp profile applied inside it'
            : `gVisor is not usable here (${host.gvisor.why}): the native backend with every layer required`,
        )
      }
      break
    case 'untrusted-code':
      choice = host.gvisor.ok ? 'gvisor' : 'native'
      reasons.push(
        choice === 'gvisor'
          ? 'a kernel exploit in the code hits gVisor’s Sentry, not the host kernel; cordon’s view, namespaces and seccomp still apply'
          : `gVisor is not usable here (${host.gvisor.why}): the native backend, whose seccomp profile refuses the kernel interfaces with a history of exploits (bpf, io_uring, userfaultfd, keyctl, perf)`,
        'no network unless the code needs it, and the monitor to freeze a burst of forks or a miner',
      )
      if (host.kvm) reasons.push('with KVM here, a micro-VM is stronger still for code from strangers')
      break
    case 'io-heavy':
      choice = 'native'
      reasons.push(
        `native and runc run sequential I/O at host speed; gVisor pays ${times(MEASURED.fileX.gvisor)} on every file open through its gofer`,
        host.kvm
          ? 'Firecracker suits I/O-heavy work when a VM boundary is required (virtio block devices)'
          : 'Firecracker would suit I/O-heavy work behind a VM boundary, but this host has no KVM',
      )
      break
  }
  const extra =
    workload === 'untrusted-code'
      ? ['--monitor']
      : workload === 'finance' && choice === 'native'
        ? ['--monitor']
        : []
  return {
    workload,
    needs: NEEDS[workload],
    choice,
    reasons,
    command:
      choice === 'micro-vm'
        ? 'kata-runtime / firecracker-containerd with the profile from: cordon export --to oci-seccomp -o DIR -- COMMAND'
        : runCommand(choice, host, choice === 'gvisor' ? [] : extra),
    lacks,
    overhead: cost(choice),
  }
}
