// The escape battery's catalogue: what each probe attacks, whether a policy should stop it,
// and which layer did when it was stopped. Attribution is by evidence: the seccomp outcome of
// the very call the probe made (reference evaluator, real arguments), then what the errno
// means for that attack (ESRCH from kill: the pid namespace hid the target; EROFS: a read-only
// mount; EACCES on a path: Landlock or a masked file).
import { holdsHostRoot, pidsAsNproc } from '../policy/effective.js'
import { under } from '../learn/paths.js'
import { capabilityNumber } from '../policy/capabilities.js'
import type { ResolvedPolicy } from '../policy/resolve.js'

export interface ProbeSpec {
  name: string
  /** What it attacks, in words. */
  attack: string
  /** Arguments the seccomp check uses for the calls this probe makes (default: zeros). */
  args?: Readonly<Record<string, readonly bigint[]>>
  /** The entry point the call went through, when not the native one. */
  arch?: 'i386'
  /** Why the policy does not promise to block it; undefined when it does. */
  notExpected?: (p: ResolvedPolicy, ctx: ProbeContext, label: string) => string | undefined
  /** Layer by errno name (or `signal N`, `none` when blocked without an errno). */
  layers: Readonly<Record<string, string>>
}

export interface ProbeContext {
  tcpPort: number
  home: string
  /** Who runs the sandbox, and whether the host gives that caller a cgroup. */
  uid: number
  cgroup: { ok: boolean; why: string }
  /** Where the battery runs: runc and gVisor map a root caller's container to host root. */
  backend: 'native' | 'runc' | 'gvisor'
  /** Whether int 0x80 works outside any sandbox here (host/probe.ts); null off x86_64. */
  i386Entry?: boolean | null
}

const CAPS = 'capabilities'
const PRIVILEGED = { EPERM: CAPS } as const
const AF_INET = 2n
const AF_PACKET = 17n
const SOCK_STREAM = 1n
const SOCK_DGRAM = 2n
const SOCK_RAW = 3n
const AT_FDCWD = 0xffffff9cn // -100 as the filter sees it (the low 32 bits)
const O_CREAT_EXCL = 0o300n | 0o1n | 0o2000000n // O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC

/** Root-only kernel files a sandbox must not read (runc masks them): kernel memory layout and
 * addresses, timers of every host process, keys. Some are absent on newer kernels (ENOENT). */
export const ROOT_ONLY_FILES = [
  '/proc/slabinfo',
  '/proc/timer_list',
  '/proc/vmallocinfo',
  '/proc/pagetypeinfo',
  '/proc/kcore',
  '/proc/keys',
  '/proc/sched_debug',
] as const

/** The memory probe's limit when the policy's is larger: the same cgroup setting at any size,
 * without filling gigabytes of the host's memory first. */
export const MEMORY_PROBE_LIMIT = 64 * 2 ** 20

/** The fork bomb's pids limit when the policy's is larger: pids.max (or RLIMIT_NPROC) is the
 * same setting at any size, and a bomb of thousands of processes costs the host tens of seconds
 * of forks and reaping before it proves anything more. */
export const PIDS_PROBE_LIMIT = 64

/** A writable bind the policy names at or below a kernel interface (`rw: /sys/fs/cgroup/x`):
 * asked for, so not promised. A wider one (`rw: /`) does not count: the view keeps them from it. */
/** Why the policy lets a probe of root's kernel mount through: it binds it writable itself. */
const boundWritable = (p: ResolvedPolicy, root: string): string | undefined => {
  const named = writableKernelBind(p, root)
  return named ? `the policy binds ${named} writable` : undefined
}

const writableKernelBind = (p: ResolvedPolicy, root: string): string | undefined =>
  p.filesystem.find((e) => e.kind === 'bind' && !e.readOnly && under(e.src, root))?.dest

const AF_INET6 = 10n
const MSG_FASTOPEN = 0x20000000n
/** The TCP probes' target is the host listener `tcp-host` uses. */
const tcpAllowed = (p: ResolvedPolicy, ctx: ProbeContext) =>
  p.network === 'host' && (!p.tcp || p.tcp.connect.includes(ctx.tcpPort))
    ? 'network: host allows it'
    : undefined
const familiesAllowed = (p: ResolvedPolicy) =>
  p.network === 'host' && !p.tcp ? 'network: host shares every socket family' : undefined
const TCP_LAYERS = {
  ENETUNREACH: 'net namespace',
  ECONNREFUSED: 'net namespace',
  EACCES: 'landlock (tcp ports)',
}

/** A root caller's sandbox without a mount namespace that holds host root's file permissions, as
 * its policy acknowledges (`acknowledge: [host-root]`, landlock/status.ts): nothing keeps it off
 * the host's device nodes and the kernel's root-only tables, and the policy says so. */
const hostRootAcknowledged = (p: ResolvedPolicy, ctx: ProbeContext) =>
  ctx.uid === 0 &&
  ctx.backend === 'native' &&
  !p.namespaces.mount &&
  holdsHostRoot(p) &&
  p.acknowledge?.includes('host-root')
    ? 'the policy acknowledges host-root: without a mount namespace only not being root would stop it'
    : undefined

/** The port allowlist's side doors: each aims at the host's TCP listener, as `tcp-host` does. */
export const TCP_SIDE_DOORS: ReadonlySet<string> = new Set([
  'tcp-fastopen',
  'tcp-fastopen6',
  'tcp-fastopen-sendmsg',
  'tcp-fastopen-sendmmsg',
  'tcp-fastopen-connect',
  'mptcp-connect',
])

export const PROBES: readonly ProbeSpec[] = [
  {
    name: 'ptrace-host',
    attack: 'ptrace(PTRACE_ATTACH) a host process',
    args: { ptrace: [16n] },
    layers: { ESRCH: 'pid namespace', EPERM: CAPS },
  },
  { name: 'mount', attack: 'mount a file system', layers: PRIVILEGED },
  { name: 'umount', attack: 'unmount a file system', layers: PRIVILEGED },
  {
    name: 'unshare-user',
    attack: 'create a user namespace (regain capabilities in it)',
    args: { unshare: [0x10000000n] },
    layers: { EPERM: 'kernel', ENOSPC: 'kernel (user namespace limit)' },
  },
  {
    name: 'unshare-mount',
    attack: 'create a mount namespace',
    args: { unshare: [0x20000n] },
    layers: PRIVILEGED,
  },
  { name: 'chroot', attack: 'chroot (the first step of a chroot escape)', layers: PRIVILEGED },
  { name: 'pivot-root', attack: 'pivot_root', layers: PRIVILEGED },
  {
    name: 'read-shadow',
    attack: 'read /etc/shadow',
    layers: { EACCES: 'mount view (masked) or Landlock', ENOENT: 'mount view', none: 'mount view (masked)' },
  },
  {
    name: 'read-home',
    attack: 'list the host home directory',
    notExpected: (p, ctx) =>
      p.filesystem.some((e) => e.kind === 'bind' && under(ctx.home, e.src))
        ? `the policy binds ${ctx.home}`
        : undefined,
    layers: { ENOENT: 'mount view', EACCES: 'landlock', none: 'mount view (empty)' },
  },
  {
    name: 'write-outside',
    attack: 'create a file in a host directory the policy does not make writable',
    args: { openat: [0n, 0n, 0o301n] },
    layers: {
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view',
      EACCES: 'landlock or file permissions',
      private: 'mount view (a private tmpfs: nothing reached the host)',
    },
  },
  // issue 18 (binds): kernel interfaces reached through a wide bind or a traced view
  {
    name: 'kernel-knobs',
    attack: "open the host's sysfs and cgroupfs knobs for writing (leave the pids limit, raise pids.max)",
    notExpected: (p) => boundWritable(p, '/sys'),
    layers: {
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view',
      EACCES: 'landlock or file permissions',
    },
  },
  {
    name: 'dev-write',
    attack: "create a file in the host's /dev (devtmpfs)",
    args: { openat: [0n, 0n, 0o301n] },
    notExpected: (p) => boundWritable(p, '/dev'),
    layers: {
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view',
      EACCES: 'landlock or file permissions',
      private: 'mount view (a private /dev: nothing reached the host)',
    },
  },
  {
    name: 'exec-tmp',
    attack: 'write a program to /tmp and run it',
    layers: { EACCES: 'mount view (noexec) and Landlock', EROFS: 'mount view (read-only)' },
  },
  {
    name: 'exec-caps',
    attack: 'gain capabilities by exec (root inside the sandbox)',
    layers: { none: 'capabilities (bounding set) and no_new_privs' },
  },
  // Exec from memory and from /dev/shm (issue 18, finding 8).
  {
    name: 'exec-memfd',
    attack: 'write a program into a memfd and run it (memfd_create without MFD_NOEXEC_SEAL, execveat)',
    args: { memfd_create: [0n, 0n] },
    layers: { EACCES: 'seccomp (MFD_NOEXEC_SEAL required)', EPERM: 'seccomp' },
  },
  {
    name: 'exec-devshm',
    attack: 'write a program to /dev/shm and run it',
    layers: {
      EACCES: 'mount view (noexec) or Landlock',
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view (no /dev/shm)',
    },
  },
  {
    name: 'setuid',
    attack: 'gain root by running a setuid/setgid-root file',
    layers: {
      none: 'no_new_privs and nosuid mounts',
      EACCES: 'landlock or noexec',
      ENOENT: 'mount view',
    },
  },
  {
    name: 'raw-socket',
    attack: 'open a raw IP socket',
    args: { socket: [AF_INET, SOCK_RAW, 1n] },
    notExpected: (p) =>
      p.capabilities.includes(capabilityNumber('CAP_NET_RAW')!) ? 'the policy keeps CAP_NET_RAW' : undefined,
    layers: PRIVILEGED,
  },
  {
    name: 'packet-socket',
    attack: 'open a packet socket (sniff or forge frames)',
    args: { socket: [AF_PACKET, SOCK_RAW, 0x300n] },
    notExpected: (p) =>
      p.capabilities.includes(capabilityNumber('CAP_NET_RAW')!) ? 'the policy keeps CAP_NET_RAW' : undefined,
    layers: PRIVILEGED,
  },
  {
    name: 'tcp-host',
    attack: 'connect to a TCP port listening on the host’s loopback',
    args: { socket: [AF_INET, SOCK_STREAM, 0n] },
    notExpected: (p, ctx) =>
      p.network === 'host' && (!p.tcp || p.tcp.connect.includes(ctx.tcpPort))
        ? 'network: host allows it'
        : undefined,
    layers: {
      ENETUNREACH: 'net namespace',
      ECONNREFUSED: 'net namespace',
      EACCES: 'landlock (tcp ports)',
    },
  },
  {
    name: 'udp-host',
    attack: 'send a UDP datagram to the host’s loopback',
    args: { socket: [AF_INET, SOCK_DGRAM, 0n] },
    notExpected: (p) => (p.network === 'host' && !p.tcp ? 'network: host allows it' : undefined),
    layers: {
      ENETUNREACH: 'net namespace',
      ECONNREFUSED: 'net namespace',
      none: 'net namespace (sent, never reached the host)',
    },
  },
  // The port allowlist's and the namespace's side doors, the terminal guard's high bits (seccomp/network.ts).
  ...(['tcp-fastopen', 'tcp-fastopen6', 'tcp-fastopen-sendmsg', 'tcp-fastopen-sendmmsg'] as const).map(
    (name): ProbeSpec => ({
      name,
      attack: `connect to a host TCP port without connect(): ${name.endsWith('mmsg') ? 'sendmmsg' : name.endsWith('msg') ? 'sendmsg' : 'sendto'} with MSG_FASTOPEN${name.endsWith('6') || name.endsWith('mmsg') ? ' (IPv6)' : ''}`,
      args: {
        socket: [name.endsWith('6') || name.endsWith('mmsg') ? AF_INET6 : AF_INET, SOCK_STREAM, 0n],
        sendto: [0n, 0n, 0n, MSG_FASTOPEN],
        sendmsg: [0n, 0n, MSG_FASTOPEN],
        sendmmsg: [0n, 0n, 1n, MSG_FASTOPEN],
      },
      notExpected: tcpAllowed,
      layers: TCP_LAYERS,
    }),
  ),
  {
    name: 'tcp-fastopen-connect',
    attack: 'connect to a host TCP port with TCP_FASTOPEN_CONNECT (the connection waits for the first write)',
    args: { socket: [AF_INET, SOCK_STREAM, 0n], setsockopt: [0n, 6n, 30n] },
    notExpected: tcpAllowed,
    layers: TCP_LAYERS,
  },
  {
    name: 'listen-autobind',
    attack: 'listen() on an unbound TCP socket (the kernel binds a port no bind rule saw)',
    args: { socket: [AF_INET, SOCK_STREAM, 0n] },
    notExpected: (p) =>
      !p.tcp
        ? 'no tcp statements: any port may be bound'
        : p.tcp.bind.length
          ? 'tcp bind ports are allowed: listen() cannot be refused, and one without bind() takes any port (the statement says partial)'
          : undefined,
    layers: { EACCES: 'seccomp' },
  },
  {
    name: 'mptcp-connect',
    attack: 'connect to a host TCP port over MPTCP (not judged by the TCP port rules)',
    args: { socket: [AF_INET, SOCK_STREAM, 262n] },
    notExpected: tcpAllowed,
    layers: { ...TCP_LAYERS, EPROTONOSUPPORT: 'kernel (MPTCP off)' },
  },
  {
    name: 'vsock',
    attack: 'open a vsock socket (not network-namespaced: it reaches the hypervisor)',
    args: { socket: [40n, SOCK_STREAM, 0n] },
    notExpected: familiesAllowed,
    layers: { EAFNOSUPPORT: 'kernel (no vsock)' },
  },
  {
    name: 'net-families',
    attack:
      'open sockets of families outside the net namespace (Bluetooth, CAN, NFC, Qualcomm IPC, KCM, TIPC…)',
    args: { socket: [31n, 5n, 0n] },
    notExpected: familiesAllowed,
    layers: { EAFNOSUPPORT: 'kernel (family absent or host-only)' },
  },
  {
    name: 'tiocsti-high-bits',
    attack: 'push keystrokes with ioctl(1 << 32 | TIOCSTI) (the kernel ignores the high bits)',
    args: { ioctl: [0n, (1n << 32n) | 0x5412n] },
    layers: { ENOENT: 'mount view (no pty)', EIO: 'kernel (legacy TIOCSTI off)' },
  },
  {
    name: 'abstract-unix',
    attack: 'connect to a host abstract UNIX socket',
    args: { socket: [1n, SOCK_STREAM, 0n] },
    notExpected: (p) =>
      p.network === 'host' && !p.landlock.scopes.includes('abstract-unix-socket')
        ? 'network: host without the abstract-unix-socket scope'
        : undefined,
    layers: { ECONNREFUSED: 'net namespace', EPERM: 'landlock (scope)' },
  },
  {
    name: 'proc-connector',
    attack: "watch every host process's fork, exec and exit (the kernel's proc connector)",
    args: { socket: [16n, 0x80002n, 11n] }, // AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR
    layers: { ECONNREFUSED: 'net namespace (the connector lives in the host’s)' },
  },
  {
    name: 'signal-host',
    attack: 'kill a host process',
    notExpected: (p) =>
      !p.namespaces.pid && !p.landlock.scopes.includes('signal')
        ? 'no pid namespace and no signal scope'
        : undefined,
    layers: { ESRCH: 'pid namespace', EPERM: 'landlock (scope)' },
  },
  {
    name: 'process-control',
    attack: 'act on a host process without a signal (prlimit64, setpriority, sched_setaffinity)',
    args: { prlimit64: [1n], setpriority: [0n, 1n], sched_setaffinity: [1n] },
    layers: { ESRCH: 'pid namespace', EPERM: 'seccomp (other processes)' },
  },
  {
    name: 'tiocsti',
    attack: 'push keystrokes into the terminal (TIOCSTI)',
    args: { ioctl: [0n, 0x5412n] },
    layers: { ENOTTY: 'new session (no terminal)', ENXIO: 'new session (no terminal)', EIO: 'new session' },
  },
  { name: 'keyctl', attack: 'use the kernel keyring', layers: { EPERM: 'kernel' } },
  {
    name: 'bpf',
    attack: 'load BPF (create a map)',
    args: { bpf: [0n] },
    layers: { EPERM: 'kernel (unprivileged BPF off)' },
  },
  {
    name: 'perf-event',
    attack: 'perf_event_open',
    layers: { EACCES: 'kernel (perf_event_paranoid)', EPERM: 'kernel' },
  },
  {
    name: 'io-uring',
    attack: 'create an io_uring (bypasses seccomp for its operations)',
    layers: { EPERM: 'kernel' },
  },
  {
    name: 'userfaultfd',
    attack: 'create a userfaultfd (exploit race widening)',
    layers: { EPERM: 'kernel' },
  },
  { name: 'module-load', attack: 'load a kernel module (finit_module)', layers: PRIVILEGED },
  { name: 'init-module', attack: 'load a kernel module (init_module)', layers: PRIVILEGED },
  { name: 'reboot', attack: 'reboot the machine', layers: PRIVILEGED },
  { name: 'clock-set', attack: 'set the system clock', layers: PRIVILEGED },
  { name: 'swapon', attack: 'enable swap', layers: PRIVILEGED },
  { name: 'kexec', attack: 'load a new kernel (kexec)', layers: PRIVILEGED },
  {
    name: 'proc-sys-write',
    attack: 'open /proc/sys and /proc/sysrq-trigger for writing (host-wide kernel settings)',
    args: { openat: [0n, 0n, 1n] },
    layers: {
      EROFS: 'mount view (read-only /proc/sys)',
      EACCES: 'file permissions (not host root), user namespace or Landlock',
      ENOENT: 'mount view',
    },
  },
  {
    name: 'proc-exe-write',
    attack: 'overwrite the launcher through /proc/PID/exe (CVE-2019-5736)',
    args: { openat: [0n, 0n, 1n] },
    layers: {
      ETXTBSY: 'kernel (running executable)',
      EACCES: 'non-dumpable launcher',
      ENOENT: 'pid namespace',
    },
  },
  {
    name: 'mknod',
    attack: 'create and open a device node (/dev/mem)',
    layers: { EPERM: CAPS, EACCES: 'landlock or nodev mount' },
  },
  {
    name: 'setuid-plant',
    attack: 'leave a setuid/setgid file on the host through a writable bind (chmod, create, mknod)',
    args: {
      fchmodat: [AT_FDCWD, 0n, 0o4755n],
      openat: [AT_FDCWD, 0n, O_CREAT_EXCL, 0o4755n],
    },
    layers: {
      EPERM: 'kernel (not the owner)',
      EROFS: 'mount view (read-only)',
      EACCES: 'landlock or file permissions',
      ENOENT: 'mount view',
      stripped: 'kernel (no setuid/setgid bit reached the host)',
    },
  },
  {
    name: 'device-metadata',
    attack: "change the host's device nodes (chmod, chown, utimensat on /dev/null, zero, full)",
    args: { fchmodat: [AT_FDCWD, 0n, 0o666n] },
    notExpected: (p, ctx) => hostRootAcknowledged(p, ctx),
    layers: {
      EPERM: 'user namespace (the host owns the nodes) or capabilities',
      EROFS: 'mount view (read-only)',
      EACCES: 'landlock',
      ENOENT: 'mount view',
      private: "mount view (the sandbox's own nodes: the host's are unchanged)",
    },
  },
  {
    name: 'root-only-read',
    attack: 'read a root-only host file or kernel table (/proc/slabinfo, kcore, keys…)',
    // The kernel tables are masked everywhere; a root-only file is shut only to a sandbox that is
    // not host root (plan/compile.ts sandboxIdentity), which the status reports as partial.
    notExpected: (p, ctx, label) =>
      hostRootAcknowledged(p, ctx) ??
      (!p.namespaces.mount && ctx.backend === 'native' && label.endsWith('=/proc/keys')
        ? "no mount namespace: nothing masks /proc/keys, which lists the caller's own keys (the status: proc partial)"
        : undefined) ??
      (ctx.uid !== 0 || label.includes('=/proc/')
        ? undefined
        : p.user.hostRoot
          ? 'user.hostRoot: the sandbox holds host root\u2019s file permissions'
          : ctx.backend === 'gvisor'
            ? "gvisor runs a root caller's container as host root"
            : ctx.backend === 'runc'
              ? "runc runs a root caller's container as host root when it has writable binds (the battery's has one)"
              : undefined),
    layers: {
      EACCES: 'file permissions (not host root) or Landlock',
      EPERM: 'capabilities',
      ENOENT: 'mount view (or absent on this kernel)',
      none: 'mount view (masked) or nothing to read',
    },
  },
  // No-namespace mode: what a sandbox reaches by the host's own paths (issue 18).
  {
    name: 'proc-host-write',
    attack: "open a host process's /proc knob for writing (oom_score_adj)",
    args: { openat: [0n, 0n, 1n] },
    layers: {
      ENOENT: 'pid namespace',
      EACCES: 'Landlock (read-only /proc) or file permissions',
      EROFS: 'mount view (read-only)',
    },
  },
  {
    name: 'host-device',
    attack: 'open a host device the policy does not list (another terminal, fuse, tun, kmsg)',
    args: { openat: [0n, 0n, 0o4004002n] },
    layers: {
      ENOENT: 'mount view',
      EACCES: 'Landlock (only the listed devices) or file permissions',
      EPERM: 'capabilities',
      ENXIO: 'kernel (no such device)',
      ENODEV: 'kernel (no such device)',
      own: "the sandbox kernel's own /dev (the host's devices are out of reach)",
    },
  },
  {
    name: 'host-tmp-write',
    attack: "create a file in the host's /tmp",
    args: { openat: [0n, 0n, 0o2000301n] },
    layers: {
      EACCES: "Landlock (the host's /tmp is out of reach)",
      EROFS: 'mount view (read-only)',
      private: 'mount view (a private tmpfs: nothing reached the host)',
    },
  },
  {
    name: 'unix-socket',
    attack: 'connect to a host pathname UNIX socket (docker.sock, D-Bus, another sandbox)',
    args: { socket: [1n, 0x80001n, 0n] },
    notExpected: (p) =>
      !p.namespaces.mount && p.acknowledge?.includes('no-view')
        ? 'the policy acknowledges no-view: without a mount namespace no layer refuses connect()'
        : undefined,
    layers: {
      ENOENT: 'mount view',
      EACCES: 'file permissions',
      ECONNREFUSED: 'mount view',
    },
  },
  {
    name: 'i386-entry',
    attack: 'call a filtered syscall (keyctl) through the i386 entry point',
    arch: 'i386',
    layers: {
      ENOSYS: 'kernel (no IA-32 emulation)',
      'signal 11': 'kernel (int 0x80 faults: no IA-32 emulation)',
      EPERM: 'kernel',
    },
  },
  {
    name: 'x32-entry',
    attack: 'call a syscall through the x32 ABI',
    layers: { ENOSYS: 'kernel (no x32)', 'signal 31': 'seccomp (x32 killed)' },
  },
  {
    name: 'fork-bomb',
    attack: 'fork until the host runs out of processes',
    notExpected: (p, ctx) =>
      p.limits.pids === undefined
        ? 'the policy sets no pids limit (limits.pids)'
        : !ctx.cgroup.ok && !pidsAsNproc(p, ctx.uid)
          ? `the pids limit is not enforced here: ${ctx.cgroup.why}`
          : undefined,
    layers: {
      EAGAIN: 'cgroup (pids limit)',
      'EAGAIN rlimit': 'rlimit (RLIMIT_NPROC in the user namespace)',
      'sandbox died': "cgroup (pids limit: gVisor's kernel was refused a host thread and the sandbox ended)",
    },
  },
  {
    name: 'memory',
    attack: 'allocate until the host runs out of memory',
    notExpected: (p, ctx) =>
      p.limits.memory === undefined
        ? 'the policy sets no memory limit (limits.memory)'
        : !ctx.cgroup.ok
          ? `the memory limit is not enforced here: ${ctx.cgroup.why}`
          : undefined,
    layers: {
      'signal 9': 'cgroup (memory limit: OOM kill)',
      ENOMEM: 'cgroup (memory limit)',
      'sandbox died': 'cgroup (memory limit: the OOM kill ended the whole gVisor sandbox)',
    },
  },
]
