// Built-in seccomp profiles, in the same shape a policy's `seccomp:` section has.
//
// default — Docker's default profile or better: everything a normal program uses is allowed;
//   kernel-wide or escape-prone operations fail EPERM (mount, modules, reboot, swap, clock,
//   raw I/O, ptrace and friends, keyrings, namespaces, eBPF and other admin calls, file
//   handles, NUMA, io_uring, userfaultfd, obsolete calls); clone with namespace flags fails
//   EPERM and clone3 (whose flags sit in memory, out of the filter's reach) fails ENOSYS so libc
//   falls back to clone; personality only to the values Docker allows.
// strict — a minimal service set: only the groups in SYSTEM_SERVICE, everything else EPERM,
//   plus the same clone/clone3/personality rules.
// none — no syscall restriction beyond the guard every filter carries.
//
// Every filter also ends with the terminal guard (TIOCSTI, TIOCLINUX → EPERM) and the memfd
// exec guard (memfd_create without MFD_NOEXEC_SEAL → EACCES), added by the resolver after all
// rules so nothing can override them.
import { SYSTEM_SERVICE } from './groups.js'
import { PROFILE_DEFAULTS } from './profile-defaults.js'

export interface RawArg {
  index: number
  op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'masked-eq' | 'in'
  value?: number | string
  mask?: number | string
  values?: (number | string)[]
  width?: 32 | 64
}

export interface RawRule {
  syscalls: string[]
  action: string
  args?: RawArg[]
}

export interface RawSeccomp {
  default: string
  rules: RawRule[]
}

const CLONE_NAMESPACE_FLAGS = 0x7e020000 // NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
const PERSONALITIES = [0, 0x0008, 0x20000, 0x20008, 0xffffffff]

const processRules: RawRule[] = [
  { syscalls: ['clone'], action: 'errno(EPERM)' },
  {
    syscalls: ['clone'],
    action: 'allow',
    args: [{ index: 0, op: 'masked-eq', mask: CLONE_NAMESPACE_FLAGS, value: 0 }],
  },
  { syscalls: ['clone3'], action: 'errno(ENOSYS)' },
  { syscalls: ['personality'], action: 'errno(EPERM)' },
  {
    syscalls: ['personality'],
    action: 'allow',
    args: [{ index: 0, op: 'in', values: PERSONALITIES, width: 32 }],
  },
]

export const DENIED_BY_DEFAULT = [
  '@mount',
  '@module',
  '@reboot',
  '@swap',
  '@clock',
  '@raw-io',
  '@debug',
  '@keyring',
  '@namespaces',
  '@privileged',
  '@file-handles',
  '@cpu-emulation',
  '@numa',
  '@obsolete',
  '@io-uring',
  '@userfaultfd',
]

export const SECCOMP_PROFILES: Readonly<Record<string, RawSeccomp>> = {
  default: {
    default: PROFILE_DEFAULTS.default,
    rules: [{ syscalls: DENIED_BY_DEFAULT, action: 'errno(EPERM)' }, ...processRules],
  },
  strict: {
    default: PROFILE_DEFAULTS.strict,
    rules: [{ syscalls: SYSTEM_SERVICE, action: 'allow' }, ...processRules],
  },
  none: { default: PROFILE_DEFAULTS.none, rules: [] },
}

/** Appended after every other rule: a sandbox never gets to type into the caller's terminal. */
export const TERMINAL_GUARD: RawRule = {
  syscalls: ['ioctl'],
  action: 'errno(EPERM)',
  args: [{ index: 1, op: 'in', values: [0x5412, 0x541c], width: 32 }],
}

/** MFD_NOEXEC_SEAL (Linux 6.3): the memfd can never be made executable. */
export const MFD_NOEXEC_SEAL = 0x8

/**
 * Appended after every other rule, like the terminal guard: a memfd is an executable file no
 * mount flag covers, so a sandbox whose writable places are noexec could still write a program
 * into one and execveat it. The kernel's own switch, vm.memfd_noexec=2 per pid namespace, cannot
 * be set from inside a user namespace (the sysctl's permission check wants the host's root), so
 * seccomp enforces the same rule in every mode: memfd_create must pass MFD_NOEXEC_SEAL, or it
 * fails EACCES — what the kernel answers MFD_EXEC under vm.memfd_noexec=2.
 */
export const MEMFD_EXEC_GUARD: RawRule = {
  syscalls: ['memfd_create'],
  action: 'errno(EACCES)',
  args: [{ index: 1, op: 'masked-eq', mask: MFD_NOEXEC_SEAL, value: 0, width: 32 }],
}
