// Picks the driver for this host: controllers in v2 when the unified tree has them, otherwise
// the v1 hierarchies (hybrid hosts keep their controllers there).
import { CordonError } from '../errors.js'
import { cgroupMountEntries } from '../host/probe.js'
import { delegatedControllers, delegatedRoot } from './delegation.js'
import type { Cgroup, CgroupDriver, CgroupRef, Limits } from './driver.js'
import { CgroupV1, CgroupV1Driver } from './v1.js'
import { CgroupV2, CgroupV2Driver } from './v2.js'

export interface CgroupMounts {
  v2?: string
  v1: Record<string, string>
}

/** Where each v1 controller and the v2 tree are mounted. */
export function cgroupMounts(mountinfo?: string): CgroupMounts {
  const entries = cgroupMountEntries(mountinfo)
  const out: CgroupMounts = { ...(entries.v2 ? { v2: entries.v2 } : {}), v1: {} }
  for (const m of entries.v1)
    for (const o of m.options)
      if (/^[a-z_]+$/.test(o) && !['rw', 'ro'].includes(o)) out.v1[o] ??= m.mountPoint
  return out
}

/** Whether a caller may have a cgroup here, and if not why (a sentence fragment). */
export interface CgroupAccess {
  ok: boolean
  why: string
  /** An unprivileged caller's delegated v2 subtree, where its groups go. */
  delegated?: string
  /** The controllers there (undefined: whatever the selected driver has). */
  controllers?: string[]
}

/** Whether this caller can have a cgroup: root always (when one is mounted), anyone else in a
 * delegated v2 subtree. `mounted` and `v2Mount` are asked only when needed, so the answer for
 * a caller without one costs one small read. */
export function cgroupAccess(
  uid = process.getuid?.() ?? 0,
  mounted: () => boolean = () => cgroupMounted(),
  v2Mount: () => string | undefined = () => cgroupMounts().v2,
): CgroupAccess {
  if (uid !== 0) {
    const v2 = v2Mount()
    const delegated = v2 ? delegatedRoot(v2, uid) : undefined
    if (!delegated)
      return {
        ok: false,
        why: 'only root gets a cgroup on this host, and no cgroup v2 subtree is delegated to this user',
      }
    return { ok: true, why: '', delegated, controllers: delegatedControllers(delegated) }
  }
  if (!mounted()) return { ok: false, why: 'no cgroup file system is mounted' }
  return { ok: true, why: '' }
}

export function cgroupMounted(mounts = cgroupMounts()): boolean {
  return mounts.v2 !== undefined || Object.keys(mounts.v1).length > 0
}

/** The driver for `limits` here: v2 when it holds the controllers (or is all there is), else v1;
 * `version` insists on one (a hybrid host's v2 tree freezes and kills without controllers).
 * For callers cgroupAccess() allows. */
export function selectDriver(limits: Limits, mounts = cgroupMounts(), version?: 1 | 2): CgroupDriver {
  const hasV1 = Object.keys(mounts.v1).length > 0
  if (version === 1 && hasV1) return new CgroupV1Driver(mounts.v1)
  if (version === 2 && mounts.v2) return new CgroupV2Driver(mounts.v2)
  if (version !== undefined)
    throw new CordonError(
      'setup_failed',
      `cgroup v${version} is not mounted on this host; leave the cgroup version to cordon, or mount it (run \`cordon check\`)`,
    )
  if (mounts.v2) {
    const v2 = new CgroupV2Driver(mounts.v2)
    const wanted = [
      'memory',
      'pids',
      ...(limits.cpus !== undefined || limits.cpuWeight !== undefined ? ['cpu'] : []),
    ]
    if (!hasV1 || wanted.every((c) => v2.controllers.includes(c))) return v2
  }
  if (hasV1) return new CgroupV1Driver(mounts.v1)
  throw new CordonError('setup_failed', 'no cgroup file system is mounted; mount cgroup2 on /sys/fs/cgroup')
}

/** The group a CgroupRef describes, for another process to freeze, thaw, read or kill. */
export function openCgroup(ref: CgroupRef): Cgroup {
  return ref.version === 2 ? new CgroupV2(ref.dirs.unified!) : new CgroupV1(ref.dirs)
}
