// org.cordon.landlock (on unless "off"): Landlock rules derived from the container's mounts, so
// each mount's read-only or read-write state is enforced by Landlock as well as by the mount,
// and no device node can be created anywhere (make_char, make_block).
import type { LandlockRow, PlanOp } from '../plan/model.js'
import { FS, fsRights, MAX_ABI, RESTRICT, restrictFlags } from '../landlock/rights.js'
import type { ViewMount } from './mounts.js'
import { invalid, type OciConfig } from './spec.js'

const ANNOTATION = 'org.cordon.landlock'
const READ = FS.execute | FS.read_file | FS.read_dir | FS.ioctl_dev
const ALL = fsRights(MAX_ABI)
const WRITE = ALL & ~(FS.make_char | FS.make_block)

export function landlockWanted(config: OciConfig): boolean {
  const v = config.annotations?.[ANNOTATION]
  if (v === undefined || v === 'on' || v === 'true') return true
  if (v === 'off' || v === 'false') return false
  throw invalid(`annotations["${ANNOTATION}"]`, '"on" or "off"', v)
}

function rows(): LandlockRow[] {
  return Array.from({ length: MAX_ABI }, (_, i) => ({
    fs: fsRights(i + 1),
    net: 0n,
    scoped: 0n,
    restrictFlags: restrictFlags(i + 1) & RESTRICT.log_new_exec_on,
  }))
}

/** Rules in the view's paths: the last mount on a path wins, as the mount itself does. A
 * read-only mount beneath a writable one is enforced by the mount alone (Landlock rights add
 * up along a path), which the notes say. */
export function landlockOps(mounts: ViewMount[], notes: string[]): PlanOp[] {
  const byDest = new Map<string, boolean>()
  for (const m of mounts) byDest.set(m.dest, m.readOnly)
  const ops: PlanOp[] = [
    {
      op: 'landlock',
      required: 0,
      fileRights: FS.execute | FS.write_file | FS.read_file | FS.truncate | FS.ioctl_dev,
      rows: rows(),
    },
  ]
  for (const [path, readOnly] of byDest) {
    ops.push({ op: 'landlock_path', path, access: readOnly ? READ : WRITE, optional: true })
    const under = [...byDest].find(([p, ro]) => !ro && p !== path && (p === '/' || path.startsWith(`${p}/`)))
    if (readOnly && under)
      notes.push(`landlock: ${path} is read-only by its mount only (beneath writable ${under[0]})`)
  }
  ops.push({ op: 'landlock_restrict' })
  notes.push(`landlock: ${byDest.size} mount rule(s), device node creation denied everywhere`)
  return ops
}

/** With the annotation off: Landlock still handles device-node creation alone (no path rules),
 * so no device node can be made anywhere. A container's author chooses the annotation, and
 * this is what keeps a root container with CAP_MKNOD from making a node of a host disk and
 * opening it where no device cgroup stands (cgroup v2 has none without eBPF: cgroups.ts
 * accepts a deny-all rule on that ground), or leaving one on the bundle's rootfs. */
export function deviceGuardOps(notes: string[]): PlanOp[] {
  notes.push('landlock: off (annotation org.cordon.landlock) but for device node creation, denied everywhere')
  return [
    {
      op: 'landlock',
      required: 0,
      fileRights: 0n,
      rows: rows().map((r) => ({ ...r, fs: FS.make_char | FS.make_block })),
    },
    { op: 'landlock_restrict' },
  ]
}
