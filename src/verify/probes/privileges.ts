// Battery rows: calls that need privileges the sandbox must not have (tracing a host process,
// mounting, new namespaces).
import { CAPS, PRIVILEGED, type ProbeSpec, type TargetContext } from '../probe-spec.js'

/** The probes that act on a host process aim at verify's sleeper. */
export const hostPid = ({ fx, add }: TargetContext) =>
  add(String(fx.sleeper.pid), `host pid ${fx.sleeper.pid}`)

const CLONE_NEWUSER = 0x10000000n
const CLONE_NEWNS = 0x20000n
/** A namespace made by unshare, or by a clone that makes it for its child (clone3's flags are out
 * of the filter's reach: refused whole, or not at all). */
const NEW_NAMESPACE = [['unshare', 'clone', 'clone3']]

export const PRIVILEGE_PROBES: readonly ProbeSpec[] = [
  {
    name: 'ptrace-host',
    // The same access check lets a process read or write another's memory, or take its fds.
    calls: [['ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd']],
    targets: hostPid,
    attack: 'ptrace(PTRACE_ATTACH) a host process',
    args: { ptrace: [16n] },
    layers: { ESRCH: 'pid namespace', EPERM: CAPS },
  },
  {
    name: 'mount',
    // The old call, or the new API: a detached tree from fsmount or open_tree is usable by its
    // fd without being attached (helper-157), move_mount attaches one.
    // mount_setattr and fspick change a mount that exists (noexec off /tmp: helper-158).
    calls: [['mount', 'fsmount', 'open_tree', 'move_mount', 'mount_setattr', 'fspick']],
    attack: 'mount a file system',
    layers: PRIVILEGED,
  },
  { name: 'umount', calls: [['umount2', 'umount']], attack: 'unmount a file system', layers: PRIVILEGED },
  {
    name: 'unshare-user',
    calls: NEW_NAMESPACE,
    attack: 'create a user namespace (regain capabilities in it)',
    args: { unshare: [CLONE_NEWUSER], clone: [CLONE_NEWUSER] },
    essential: { unshare: { 0: CLONE_NEWUSER }, clone: { 0: CLONE_NEWUSER } },
    layers: { EPERM: 'kernel', ENOSPC: 'kernel (user namespace limit)' },
  },
  {
    name: 'unshare-mount',
    calls: NEW_NAMESPACE,
    attack: 'create a mount namespace',
    args: { unshare: [CLONE_NEWNS], clone: [CLONE_NEWNS] },
    essential: { unshare: { 0: CLONE_NEWNS }, clone: { 0: CLONE_NEWNS } },
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
