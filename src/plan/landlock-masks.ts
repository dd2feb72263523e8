// Masks under Landlock: a mask hides a path inside a granted tree, and Landlock, which only adds
// rights going down a tree, can keep it only by granting the tree's other children one by one.
// Where that would cost the program its own new files, the mask is left to the mount view, and
// the statement says so (plan/landlock.ts foreignRights, README: masks).
import { describeAccess, FILE_RIGHTS, FS } from '../landlock/rights.js'
import type { ViewEntry } from '../policy/resolve.js'
import type { HostFs } from './view.js'

/** One Landlock rule on a path (plan/landlock.ts landlockRules). */
export interface LandlockRule {
  path: string
  access: bigint
  optional: boolean
  /** The policy statement it realises, for explanations. */
  from: string
}

const under = (path: string, dir: string) => path.startsWith(dir === '/' ? '/' : `${dir}/`)

/**
 * Landlock grants whole trees and cannot carve a hole in one, so a granted tree holding masked
 * paths becomes rules on its children instead (recursing towards each mask), plus `readdir` on
 * the tree itself: names stay listable, masked contents are not readable. A child that is a
 * symlink gets no rule: followed, the rule would land on the link's target — a masked path, or a
 * tree of another statement — while Landlock judges a path by the directories it really passes,
 * never the link's (and where the launcher opens rules without following one, ELOOP). The kinds come
 * with the listing (d_type: no lstat per child, /etc has hundreds).
 */
export function splitAroundMasks(
  rule: LandlockRule,
  hostDir: string,
  masks: string[],
  fs: HostFs,
): LandlockRule[] {
  const inside = masks.filter((m) => under(m, rule.path))
  if (inside.length === 0) return [rule]
  const out: LandlockRule[] = [
    { ...rule, access: rule.access & FS.read_dir, from: `${rule.from}, split around masks` },
  ]
  for (const { name, kind } of fs.list(hostDir)) {
    const view = rule.path === '/' ? `/${name}` : `${rule.path}/${name}`
    const host = hostDir === '/' ? `/${name}` : `${hostDir}/${name}`
    if (inside.includes(view) || kind === 'symlink') continue
    // A file gets the rights a file can hold: the kernel refuses a directory-only right on one,
    // and the launcher then asks the path's kind and adds the rule again (native/landlock.c),
    // two syscalls more for each of /etc's files. The kind is the listing's, which a filed
    // plan's host reads include.
    const access = kind === 'dir' ? rule.access : rule.access & FILE_RIGHTS
    if (access === 0n) continue
    const child: LandlockRule = { ...rule, path: view, access, optional: true }
    if (inside.some((m) => under(m, view)) && kind === 'dir')
      out.push(...splitAroundMasks(child, host, inside, fs))
    else out.push(child)
  }
  return out
}

/** Rights that add names to a directory: a tree granting one may hold files made after the plan. */
const CREATE =
  FS.make_reg | FS.make_dir | FS.make_sym | FS.make_sock | FS.make_fifo | FS.make_char | FS.make_block

/** Whether a bind's rule is split around the masks inside it (splitAroundMasks). The split
 * grants the children that exist when the plan is made, so in a tree the program can add to,
 * its new files (and new names in the directories on a mask's way) would get no rights at all,
 * though the policy says `rw`. In a mount namespace the mask's mount already hides the path (a
 * nodev /dev/null or an empty read-only tmpfs: no right reaches through it), so such a tree is
 * granted whole and the mask is the mount view's alone (foreignRights says so). Without one
 * Landlock is the only layer: the split stays, strict (README, masks). */
export const carvesMasks = (access: bigint, inView: boolean) => !inView || (access & CREATE) === 0n

/** A rule as the kernel sees it: where it is opened (`path`, in the view or on the host without
 * one) and, when that is a bind's tree, the host directory it lands on. */
export interface Grant {
  path: string
  host?: string | undefined
  access: bigint
  from: string
  entry?: ViewEntry
}

/** A mask keeps Landlock only where every grant enclosing it is split around it (landlockRules:
 * the split leaves `readdir` on the way). A tree the program can add files to is granted whole in
 * a mount namespace (carvesMasks), and a tmpfs, proc, dev or `landlock.paths` grant never splits:
 * those rights reach the masked path, which the mount view alone hides. */
export function maskReach(
  m: ViewEntry,
  grants: Grant[],
  inView: boolean,
  out: Map<ViewEntry, string>,
  hostRule = false,
  at = m.dest,
) {
  const whole = grants.filter(
    (g) =>
      (at === g.path || under(at, g.path)) && !(g.entry?.kind === 'bind' && carvesMasks(g.access, inView)),
  )
  const extra = whole.reduce((a, g) => a | g.access, 0n) & ~FS.read_dir
  if (extra === 0n) return
  const by = whole.filter((g) => (g.access & extra) !== 0n)
  const growing = by.some((g) => g.entry?.kind === 'bind')
  const through = `Landlock grants ${describeAccess(extra)} here, through ${by.map((g) => `\`${g.from}\``).join(', ')}: `
  out.set(
    m,
    through +
      (hostRule
        ? 'that rule is not split around it, and without a mount namespace nothing else hides it'
        : growing
          ? 'a tree the program can add files to is granted whole (split around the mask, its new files would get no rights), so only the mount view hides it'
          : 'that rule is not split around masks, so only the mount view hides it'),
  )
}
