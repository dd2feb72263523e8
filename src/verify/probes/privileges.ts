// Battery rows: calls that need privileges the sandbox must not have (tracing a host process,
// mounting, new namespaces).
import { CAPS, PRIVILEGED, type ProbeSpec, type TargetContext } from '../probe-spec.js'

/** The probes that act on a host process aim at verify's sleeper. */
export const hostPid = ({ fx, add }: TargetContext) =>
  add(String(fx.sleeper.pid), `host pid ${fx.sleeper.pid}`)

export const PRIVILEGE_PROBES: readonly ProbeSpec[] = [
  {
    name: 'ptrace-host',
    calls: [['ptrace']],
    targets: hostPid,
    attack: 'ptrace(PTRACE_ATTACH) a host process',
    args: { ptrace: [16n] },
    layers: { ESRCH: 'pid namespace', EPERM: CAPS },
  },
  {
    name: 'mount',
    calls: [['mount']],
    attack: 'mount a file system',
    layers: PRIVILEGED,
  },
  { name: 'umount', calls: [['umount2']], attack: 'unmount a file system', layers: PRIVILEGED },
  {
    name: 'unshare-user',
    calls: [['unshare']],
    attack: 'create a user namespace (regain capabilities in it)',
    args: { unshare: [0x10000000n] },
    layers: { EPERM: 'kernel', ENOSPC: 'kernel (user namespace limit)' },
  },
  {
    name: 'unshare-mount',
    calls: [['unshare']],
    attack: 'create a mount namespace',
    args: { unshare: [0x20000n] },
    layers: PRIVILEGED,
  },
  {
    name: 'chroot',
    calls: [['chroot']],
    attack: 'chroot (the first step of a chroot escape)',
    layers: PRIVILEGED,
  },
  { name: 'pivot-root', calls: [['pivot_root']], attack: 'pivot_root', layers: PRIVILEGED },
]
