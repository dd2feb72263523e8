// Battery rows: host processes, the terminal, and the kernel's privileged or risky interfaces.
import { AT_FDCWD, CAPS, O_WRITE, OPEN_CALLS, openat, PRIVILEGED, type ProbeSpec } from '../probe-spec.js'
import { hostPid } from './privileges.js'

export const KERNEL_PROBES: readonly ProbeSpec[] = [
  {
    name: 'signal-host',
    calls: [['kill']],
    targets: hostPid,
    attack: 'kill a host process',
    args: { kill: [0n, 15n] }, // SIGTERM; the pid is the run's
    notExpected: (p, ctx) =>
      !p.namespaces.pid && !p.landlock.scopes.includes('signal')
        ? 'no pid namespace and no signal scope'
        : !p.namespaces.pid && ctx.backend !== 'native' && p.acknowledge?.includes('scopes')
          ? `no pid namespace, and ${ctx.backend} has no Landlock signal scope, as the policy acknowledges (scopes)`
          : undefined,
    layers: { ESRCH: 'pid namespace', EPERM: 'landlock (scope)' },
  },
  {
    name: 'process-control',
    calls: [['prlimit64', 'setpriority', 'sched_setaffinity']],
    targets: hostPid,
    attack: 'act on a host process without a signal (prlimit64, setpriority, sched_setaffinity)',
    // Blocked, it names prlimit64's refusal (RLIMIT_NOFILE, read only) after trying the others.
    // The target is the run's host pid: any but 0, the caller itself.
    args: { prlimit64: [1n, 7n], setpriority: [0n, 1n], sched_setaffinity: [1n, 128n] },
    essential: {
      prlimit64: { 0: 'nonzero' },
      setpriority: { 1: 'nonzero' },
      sched_setaffinity: { 0: 'nonzero' },
    },
    layers: { ESRCH: 'pid namespace', EPERM: 'seccomp (other processes)' },
  },
  {
    name: 'tiocsti',
    calls: [['ioctl']],
    attack: 'push keystrokes into the terminal (TIOCSTI)',
    args: { ioctl: [0n, 0x5412n] },
    essential: { ioctl: { 1: 0xffffffffn } }, // the kernel reads the request as an int
    layers: { ENOTTY: 'new session (no terminal)', ENXIO: 'new session (no terminal)', EIO: 'new session' },
  },
  {
    name: 'keyctl',
    calls: [['keyctl', 'add_key', 'request_key']], // each reaches the keyrings (helper-157)
    attack: 'use the kernel keyring',
    args: { keyctl: [0n, 0xfffffffdn, 0n] }, // KEYCTL_GET_KEYRING_ID of the session keyring (-3)
    layers: { EPERM: 'kernel' },
  },
  {
    name: 'bpf',
    calls: [['bpf']],
    attack: 'load BPF (create a map)',
    args: { bpf: [0n] }, // BPF_MAP_CREATE; the attribute's size is the build's headers'
    layers: { EPERM: 'kernel (unprivileged BPF off)' },
  },
  {
    name: 'perf-event',
    calls: [['perf_event_open']],
    attack: 'perf_event_open',
    args: { perf_event_open: [0n, 0n, 0xffffffffn, 0xffffffffn, 0n] }, // this process, any CPU
    layers: { EACCES: 'kernel (perf_event_paranoid)', EPERM: 'kernel' },
  },
  {
    name: 'io-uring',
    calls: [['io_uring_setup']],
    attack: 'create an io_uring (bypasses seccomp for its operations)',
    args: { io_uring_setup: [1n] },
    layers: { EPERM: 'kernel' },
  },
  {
    name: 'userfaultfd',
    calls: [['userfaultfd']],
    attack: 'create a userfaultfd (exploit race widening)',
    args: { userfaultfd: [0x80001n] }, // O_CLOEXEC | UFFD_USER_MODE_ONLY
    layers: { EPERM: 'kernel' },
  },
  {
    name: 'module-load',
    calls: [['finit_module']],
    attack: 'load a kernel module (finit_module)',
    layers: PRIVILEGED,
  },
  {
    name: 'init-module',
    calls: [['init_module']],
    attack: 'load a kernel module (init_module)',
    layers: PRIVILEGED,
  },
  {
    name: 'reboot',
    calls: [['reboot']],
    attack: 'reboot the machine',
    args: { reboot: [0xfee1deadn, 0x12345678n, 0n] }, // the second magic wrong: EINVAL past the check
    layers: PRIVILEGED,
  },
  {
    name: 'clock-set',
    calls: [['adjtimex', 'clock_adjtime', 'clock_settime', 'settimeofday', 'stime']],
    attack: 'set the system clock',
    layers: PRIVILEGED,
  },
  { name: 'swapon', calls: [['swapon']], attack: 'enable swap', layers: PRIVILEGED },
  {
    name: 'kexec',
    calls: [['kexec_load', 'kexec_file_load']],
    attack: 'load a new kernel (kexec)',
    args: { kexec_load: [0n, 0n, 0n, 0x7fff0000n] }, // no segments, an architecture none has
    layers: PRIVILEGED,
  },
  {
    name: 'proc-sys-write',
    calls: OPEN_CALLS,
    attack: 'open /proc/sys and /proc/sysrq-trigger for writing (host-wide kernel settings)',
    args: { openat: openat(O_WRITE) },
    layers: {
      EROFS: 'mount view (read-only /proc/sys)',
      EACCES: 'file permissions (not host root), user namespace or Landlock',
      ENOENT: 'mount view',
    },
  },
  {
    name: 'proc-exe-write',
    calls: OPEN_CALLS,
    attack: 'overwrite the launcher through /proc/PID/exe (CVE-2019-5736)',
    args: { openat: openat(O_WRITE) },
    layers: {
      ETXTBSY: 'kernel (running executable)',
      EACCES: 'non-dumpable launcher',
      ENOENT: 'pid namespace',
    },
  },
  {
    name: 'mknod',
    calls: [['mknod', 'mknodat']],
    // S_IFCHR | 0600, makedev(1, 1): what native/attack.c p_mknod passes.
    args: { mknod: [0n, 0o20600n, 0x101n], mknodat: [AT_FDCWD, 0n, 0o20600n, 0x101n] },
    attack: 'create and open a device node (/dev/mem)',
    layers: { EPERM: CAPS, EACCES: 'landlock or nodev mount' },
  },
]
