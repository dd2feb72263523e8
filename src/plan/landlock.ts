// The policy's filesystem and network statements → Landlock rules. Every bind, tmpfs, proc and
// dev entry of the view becomes a rule on its path inside the sandbox (so a read-only bind is
// also read-only to Landlock), `landlock.paths` add rules the view does not mount, and `tcp`
// ports become port rules. The plan carries one row of handled rights per ABI; the launcher
// uses the running kernel's row, so the same plan degrades gracefully.
import { CordonError } from '../errors.js'
import type { LandlockRow, PlanOp } from './model.js'
import { carvesMasks, type Grant, type LandlockRule, maskReach, splitAroundMasks } from './landlock-masks.js'
import { DEVICES, type HostFs, realHostFs } from './view.js'
import { lastAtEachPlace } from '../policy/resolved.js'
import { isLinkBind, type LinkReader, resolveViewPath, under as within } from '../policy/view-paths.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import {
  accessMask,
  describeAccess,
  FILE_RIGHTS,
  FS,
  fsRights,
  MAX_ABI,
  NET,
  netRights,
  RESTRICT,
  restrictFlags,
  SCOPE,
  scopes,
} from '../landlock/rights.js'

export type { LandlockRule } from './landlock-masks.js'

/** Default rights of each kind of view entry. Inside the view some entries also get `truncate`
 * (see grantsTruncate) where no layer loses anything by it, because the kernel asks for truncate
 * at every open (ABI 3) and a tree that never grants it is walked to the root at each open
 * instead of stopping at its rule. Without a view Landlock is the only layer, so there it is
 * never added. */
function entryAccess(e: ViewEntry): string[] | undefined {
  switch (e.kind) {
    case 'bind':
      return e.access ?? [e.readOnly ? 'rx' : 'rw']
    case 'tmpfs':
      return (
        e.access ??
        (e.exec === false ? ['read', 'readdir', 'write', 'create', 'delete', 'truncate', 'refer'] : ['rw'])
      )
    case 'proc':
      return ['read', 'readdir', 'write']
    case 'dev':
      return ['read', 'readdir', 'write', 'ioctl-dev']
    default:
      return undefined // masks, files, links, dirs live inside other entries' trees
  }
}

const under = (path: string, dir: string) => path.startsWith(dir === '/' ? '/' : `${dir}/`)
/** dir + rest, where rest is '' or starts with '/'. */
const join = (dir: string, rest: string) => (dir === '/' ? rest || '/' : rest === '/' ? dir : dir + rest)

/** Whether the mount under an entry already leaves nothing for Landlock's `truncate` to guard:
 * a read-only bind refuses every truncate with EROFS before Landlock is asked; proc files keep
 * their contents on truncate (procfs has no size to change: `echo 1 > /proc/self/…` opens with
 * O_TRUNC, which Landlock refused with EACCES while bwrap and the host allow it); /dev holds
 * device nodes (truncate does not apply) and no file the sandbox can create (its rule has no
 * `create`), its shm tmpfs having a rule of its own. */
const truncateMeaningless = (e: ViewEntry) =>
  (e.kind === 'bind' && e.readOnly) || e.kind === 'proc' || e.kind === 'dev'

/** Whether an entry's own rule grants `truncate` inside the view: its rights name it, or its
 * mount makes it meaningless (truncateMeaningless) and the grant reaches nothing else that
 * refuses it (truncateReaches). */
function grantsTruncate(e: ViewEntry, entries: readonly ViewEntry[]): boolean {
  const names = entryAccess(e)
  if (names && (accessMask(names).mask & FS.truncate) !== 0n) return true
  return truncateMeaningless(e) && !truncateReaches(e, entries)
}

/** Whether a grant of `truncate` on an entry's rule would reach a file that no EROFS protects:
 * Landlock's rights are inherited down the tree and its rules belong to inodes, not paths. So a
 * writable mount below the entry's destination whose own rule refuses truncate (a rw bind or
 * tmpfs with an `access:` list), a file the policy writes there (`file:`, on a writable /dev),
 * or — for a read-only bind — a writable bind showing the same host files elsewhere (the same
 * source, or one holding the read-only bind's source) would get it. Such an entry never gets
 * the right. */
function truncateReaches(e: ViewEntry, entries: readonly ViewEntry[]): boolean {
  return entries.some((o) => {
    if (o === e || (o.kind === 'bind' && o.readOnly)) return false
    if (o.kind === 'file') return e.kind !== 'bind' && under(o.dest, e.dest)
    if (o.kind !== 'bind' && o.kind !== 'tmpfs' && o.kind !== 'proc' && o.kind !== 'dev') return false
    const below = under(o.dest, e.dest)
    const aliases = e.kind === 'bind' && o.kind === 'bind' && (o.src === e.src || under(e.src, o.src))
    return (below || aliases) && !grantsTruncate(o, entries)
  })
}

/** The rights of an entry's own rule (see entryAccess on `truncate`). */
const ownAccess = (e: ViewEntry, names: string[], entries: readonly ViewEntry[], inView: boolean) =>
  accessMask(inView && grantsTruncate(e, entries) ? [...names, 'truncate'] : names).mask

/** Without a mount namespace there is no view: each statement is a rule on the host's path,
 * narrowed to what the statement promises rather than the host tree it names. `proc` is the
 * host's /proc read-only: its writable files are host-wide knobs (/proc/sys, sysrq-trigger) or
 * other processes' (/proc/PID/*), and a sandbox reopening its own fds needs no right on /proc
 * (the kernel checks the file the magic link leads to). `dev` is the listed devices, never
 * another user's terminal in /dev/pts. `tmpfs` cannot replace the host's directory, so the host's
 * stays out of reach and the sandbox writes to its own temporary directory (`privateTmp`, made per
 * run by run/spawn.ts and named by $TMPDIR); a plan compiled without one has none. */
function hostRules(e: ViewEntry, privateTmp: string | undefined): LandlockRule[] {
  switch (e.kind) {
    case 'proc':
      return [rule(e.dest, ['read', 'readdir'], `proc ${e.dest} (host's, read-only)`)]
    case 'dev':
      return DEVICES.map((d) => ({
        ...rule(`${e.dest}/${d}`, ['read', 'write', 'ioctl-dev'], `dev ${e.dest}/${d}`),
        optional: true,
      }))
    case 'tmpfs':
      return privateTmp ? [rule(privateTmp, entryAccess(e)!, `tmpfs ${e.dest} as $TMPDIR`)] : []
    default:
      return []
  }
}

const rule = (path: string, names: readonly string[], from: string): LandlockRule => ({
  path,
  access: accessMask(names).mask,
  optional: false,
  from,
})

/** The entries a bind enclosing them is split around (splitAroundMasks), each with the host path
 * it is judged at: masks, and without a view of any kind (`hostRule`) every tmpfs too. There a
 * tmpfs cannot be mounted: the host's directory stays, and the statement says it is out of reach
 * (status/statements.ts withoutView), which a bind enclosing it (`ro: /usr` with
 * `tmpfs: /usr/share`) granted whole would belie. Binds are rules on their sources' real paths
 * there (policy/bind-sources.ts), so a tmpfs is placed at its own real path, through every
 * symlink on its way, as a mask's is settled: named through a link (`/lib/systemd` on a
 * merged-/usr host, a link an earlier run made in a project), it was carved out of nothing. */
function hidden(
  entries: readonly ViewEntry[],
  hostRule: boolean,
  fs: LinkReader,
): { entry: ViewEntry; at: string }[] {
  return entries.flatMap((entry): { entry: ViewEntry; at: string }[] => {
    if (entry.kind === 'mask') return [{ entry, at: entry.dest }]
    if (!hostRule || entry.kind !== 'tmpfs') return []
    let at = entry.dest
    try {
      at = resolveViewPath(entry.dest, fs, undefined).path
    } catch {} // too many links: no host path leads there
    return [{ entry, at }]
  })
}

/** A tmpfs without a view whose host directory another statement grants by another name: a
 * bind whose source leads into it through a link (`ro: /cachelnk` with /cachelnk -> the tmpfs's
 * directory; `ro: /usr/bin/X11`, X11 -> ., inside `tmpfs: /usr/bin`, which a view copies as a
 * link into the empty tmpfs, leading nowhere), or a `landlock.paths` rule inside its real
 * directory by another name. A bind inside it by its own name, through no link, is the
 * policy's own: a view would mount it over the tmpfs too; so is a `landlock.paths` rule named
 * inside it (verify's fixtures under the host's /tmp), which the launcher opens without
 * following a link. */
function shownElsewhere(t: ViewEntry, at: string, grants: Grant[], out: Map<ViewEntry, string>): void {
  const own = (g: Grant) =>
    g.entry === undefined
      ? within(g.path, t.dest) // opened without following links (native/landlock.c): by its name
      : g.entry.kind === 'bind' && g.entry.src === g.entry.dest && within(g.entry.dest, t.dest)
  const by = grants.filter(
    (g) => within(g.path, at) && (g.entry === undefined || g.entry.kind === 'bind') && !own(g),
  )
  if (!by.length) return
  const extra = by.reduce((a, g) => a | g.access, 0n)
  out.set(
    t,
    `Landlock grants ${describeAccess(extra)} to the host's files here, through ${by.map((g) => `\`${g.entry?.kind === 'bind' ? `bind ${g.entry.dest}` : g.from}\``).join(', ')}, ` +
      'which names them by another path: without a mount namespace nothing else hides them',
  )
}

/** The tmpfs statement whose rights the private temporary directory gets: /tmp's, else the first. */
export const tmpStatement = (policy: ResolvedPolicy) => {
  const tmpfs = lastAtEachPlace(policy.filesystem).filter((e) => e.kind === 'tmpfs')
  return tmpfs.find((e) => e.dest === '/tmp') ?? tmpfs[0]
}

/** Where a sandbox without a mount namespace finds itself: its own temporary directory (see
 * hostRules), or a view someone else built (a container's: plans exported to run inside a pod),
 * where the statements' paths are that view's, not the host's. */
export interface OutsideView {
  privateTmp?: string
  viewProvided?: boolean
}

export function landlockRules(
  policy: ResolvedPolicy,
  fs: HostFs = realHostFs,
  { privateTmp, viewProvided = false }: OutsideView = {},
): LandlockRule[] {
  const rules: LandlockRule[] = []
  const inView = policy.namespaces.mount
  // An entry a later one at its place replaces grants nothing: without a view, Landlock merged
  // its rights with the later one's (a read-only bind made writable kept writable, a mask over a
  // bind showed the file), and with one the plan granted rights the view does not show.
  const entries = lastAtEachPlace(policy.filesystem)
  const masks = hidden(entries, !inView && !viewProvided, fs).map((h) => h.at)
  if (inView)
    // The view's root is read-only and holds only what the policy put there: listing it is safe.
    rules.push({ path: '/', access: accessMask(['readdir']).mask, optional: false, from: 'view root' })
  const tmp = inView ? undefined : tmpStatement(policy)
  for (const e of entries) {
    const names = entryAccess(e)
    if (!names) continue
    if (!inView && !viewProvided && e.kind !== 'bind') {
      rules.push(...hostRules(e, e === tmp ? privateTmp : undefined))
      continue
    }
    // A same-path bind of a host link is the link in the view (plan/view.ts): what it leads
    // to is granted by its own path's rules, and a rule opened through it would grant wherever
    // a planted link points.
    if (inView && isLinkBind(e, fs)) continue
    // Without the mount namespace a bind applies to its host path.
    const path = e.kind === 'bind' ? (inView ? e.dest : e.src) : e.dest
    const r = {
      path,
      access: ownAccess(e, names, entries, inView),
      optional: e.kind === 'bind' && e.optional,
      from: `${e.kind} ${path}`,
    }
    rules.push(
      ...(e.kind === 'bind' && carvesMasks(r.access, inView) ? splitAroundMasks(r, e.src, masks, fs) : [r]),
    )
    // The view's /dev holds a private, noexec shm tmpfs: POSIX shared memory and semaphores
    // (Python's multiprocessing) create and remove files there, which /dev's rights do not allow.
    if (e.kind === 'dev' && inView)
      rules.push({
        path: `${e.dest === '/' ? '' : e.dest}/shm`,
        access: accessMask(['read', 'readdir', 'write', 'create', 'delete', 'truncate']).mask,
        optional: true,
        from: `dev ${e.dest}/shm (private tmpfs)`,
      })
  }
  policy.landlock.paths.forEach((p, i) => {
    // Without a view the launcher opens a rule's host path following no link (a link swapped in
    // since must not redirect it): one through a link failed at the start, with ELOOP alone.
    if (!inView && !viewProvided && !p.optional) {
      const { links } = resolveViewPath(p.path, fs, undefined)
      if (links.length)
        throw new CordonError(
          'invalid_policy',
          `Refused: landlock.paths[${i}].path ${p.path} passes through the symlink ${links[0]}; ` +
            'without a mount namespace a rule follows no link: name the real path, or mark it `optional: true`',
          {
            issues: [
              {
                code: 'invalid_value',
                path: ['landlock', 'paths', i, 'path'],
                message: `passes through the symlink ${links[0]}`,
              },
            ],
          },
        )
    }
    rules.push({
      path: p.path,
      access: accessMask(p.access).mask,
      optional: p.optional,
      from: `landlock path ${p.path}`,
    })
  })
  return rules
}

export function landlockRows(policy: ResolvedPolicy, maxAbi = MAX_ABI): LandlockRow[] {
  const wantedScopes =
    (policy.landlock.scopes.includes('abstract-unix-socket') ? SCOPE.abstract_unix_socket : 0n) |
    (policy.landlock.scopes.includes('signal') ? SCOPE.signal : 0n)
  return Array.from({ length: Math.min(Math.max(maxAbi, 1), MAX_ABI) }, (_, i) => {
    const abi = i + 1
    return {
      fs: fsRights(abi),
      net: policy.tcp ? netRights(abi) : 0n,
      scoped: scopes(abi) & wantedScopes,
      // Denials after execve are the sandboxed program's: log them (where the ABI can) for
      // `cordon monitor`.
      restrictFlags: restrictFlags(abi) & RESTRICT.log_new_exec_on,
    }
  })
}

export function compileLandlock(
  policy: ResolvedPolicy,
  notes: string[],
  fs: HostFs = realHostFs,
  maxAbi = MAX_ABI,
  outside: OutsideView = {},
): PlanOp[] {
  const rules = landlockRules(policy, fs, outside)
  const ops: PlanOp[] = [
    {
      op: 'landlock',
      required: policy.landlock.require,
      fileRights: FILE_RIGHTS,
      rows: landlockRows(policy, maxAbi),
    },
  ]
  // Every path was resolved to a real one when the plan was made: without a view on the host;
  // in a view through its links (policy/view-dests.ts), a same-path link bind getting no rule.
  // A link the launcher finds on a rule's way was swapped in since, by a sandbox sharing a host
  // directory there, and would carry the rule's rights elsewhere (the view's root: all of it).
  // Only a view an OCI engine made (its rootfs's own links) is opened following them.
  const nofollow = !outside.viewProvided
  // Rules on one path (the view's root and a bind of `/`) are one op with the union of their
  // rights, as the kernel would merge them: the launcher opens, checks and adds it once.
  const byPath = new Map<string, Extract<PlanOp, { op: 'landlock_path' }>>()
  for (const r of rules) {
    const key = `${r.optional ? 'o' : 'r'}:${r.path}`
    const same = byPath.get(key)
    if (same) {
      same.access |= r.access
      continue
    }
    const op = {
      op: 'landlock_path' as const,
      path: r.path,
      access: r.access,
      optional: r.optional,
      ...(nofollow ? { nofollow } : {}),
    }
    byPath.set(key, op)
    ops.push(op)
  }
  for (const port of policy.tcp?.bind ?? []) ops.push({ op: 'landlock_port', access: NET.bind_tcp, port })
  for (const port of policy.tcp?.connect ?? [])
    ops.push({ op: 'landlock_port', access: NET.connect_tcp, port })
  ops.push({ op: 'landlock_restrict' })
  notes.push(
    `landlock: ${rules.length} path rule(s)${policy.tcp ? `, tcp bind [${policy.tcp.bind.join(' ')}] connect [${policy.tcp.connect.join(' ')}]` : ''}, ` +
      `scopes ${policy.landlock.scopes.join(' ') || 'none'}, ${policy.landlock.require ? `requires ABI ${policy.landlock.require}` : 'best effort'}`,
  )
  const split = rules.filter((r) => r.from.endsWith('split around masks'))
  for (const r of rules.filter((x) => x.optional === false || !split.some((p) => under(x.path, p.path))))
    notes.push(`  landlock ${r.path}: ${describeAccess(r.access)} (${r.from})`)
  for (const p of split)
    notes.push(`  landlock ${p.path}/*: children granted one by one, masked paths left out`)
  return ops
}

/**
 * Rights that reach an entry's files from rules other than its own, as `entry → why`, for the
 * statement status (landlock/status.ts). Landlock rules belong to inodes, not to mount points,
 * and the rights at a file are the union of every rule met walking up from it, across mount
 * points to the root. So a read-only bind gets the rights of a tmpfs or writable bind that
 * encloses its destination (the walk leaves the bind at its mount point and goes on up), and of
 * any writable bind showing the same host files elsewhere (the same source, or one inside it:
 * that rule sits on an inode of the read-only bind's tree). The read-only mount still refuses
 * writes (EROFS), but Landlock no longer does. Taking the rights back is not possible: Landlock
 * only adds rights going down a tree, and granting a host inode only what every bind of it
 * allows would take writes away from the writable bind the policy asked for. So the grant
 * stays, and the statement says that Landlock does not keep it (README, Landlock).
 * A writable bind inside a read-only one at the same place (`ro: ./p` with `rw: ./p/out`) is
 * the policy's own carve-out, reached only through its own mount: not a leak. The other way
 * round (`ro: ./p/.git` inside `rw: ./p`) is one: the walk from .git goes on up through ./p.
 * A mask's are the rights of every enclosing grant not split around it (maskReach).
 */
export function foreignRights(
  policy: ResolvedPolicy,
  outside: OutsideView = {},
  fs: LinkReader = realHostFs,
): Map<ViewEntry, string> {
  const inView = policy.namespaces.mount
  const hostRule = !inView && !outside.viewProvided
  const entries = lastAtEachPlace(policy.filesystem)
  const binds = entries.filter((e) => e.kind === 'bind')
  // The host directory a path inside the view shows: that of the deepest bind holding it.
  const hostOf = (path: string): string | undefined => {
    if (hostRule) return path
    const b = binds
      .filter((x) => x.dest === path || under(path, x.dest))
      .sort((x, y) => y.dest.length - x.dest.length)[0]
    return b && join(b.src, b.dest === '/' ? path : path.slice(b.dest.length))
  }
  const grants: Grant[] = []
  if (inView) grants.push({ path: '/', access: accessMask(['readdir']).mask, from: 'view root' })
  for (const e of entries) {
    const names = entryAccess(e)
    // Outside a view only binds keep their statement's path (hostRules: the others become
    // narrower rules on other paths, judged by their own statuses).
    if (!names || (hostRule && e.kind !== 'bind')) continue
    const path = e.kind === 'bind' && hostRule ? e.src : e.dest
    grants.push({
      path,
      host: e.kind === 'bind' ? (hostRule ? e.src : hostOf(e.dest)) : undefined,
      access: ownAccess(e, names, entries, inView),
      from: `${e.kind} ${path}`,
      entry: e,
    })
  }
  for (const p of policy.landlock.paths)
    grants.push({
      path: p.path,
      host: hostOf(p.path),
      access: accessMask(p.access).mask,
      from: `landlock path ${p.path}`,
    })
  const out = new Map<ViewEntry, string>()
  for (const g of grants) {
    if (!g.entry) continue
    const reaching = grants.filter((o) => {
      if (o === g || o.path === g.path) return false
      if (under(g.path, o.path)) return true // encloses: the walk goes on up through it
      if (hostRule || g.host === undefined || o.host === undefined) return false
      // Shows g's host files elsewhere, other than as a carve-out at the same place.
      const inside = o.host === g.host || under(o.host, g.host)
      const samePlace = o.path === join(g.path, g.host === '/' ? o.host : o.host.slice(g.host.length))
      return inside && !samePlace
    })
    const extra = reaching.reduce((m, o) => m | o.access, 0n) & ~g.access
    if (extra === 0n) continue
    // One name per statement: a statement may make several grants (a tmpfs and its mount point).
    const by = [...new Set(reaching.filter((o) => (o.access & extra) !== 0n).map((o) => `\`${o.from}\``))]
    // A read-only mount refuses writes to files, not the open of a FIFO for writing (the
    // kernel's check is for regular files, directories and links): with Landlock granting
    // write, a FIFO a host reader holds open takes the sandbox's bytes (helper-137).
    const fifo =
      inView && g.entry.kind === 'bind' && g.entry.readOnly && (extra & FS.write_file) !== 0n
        ? '; a FIFO in it stays writable, which a read-only mount does not refuse'
        : ''
    out.set(
      g.entry,
      `Landlock grants ${describeAccess(extra)} here too, through ${by.join(', ')}: its rules follow files and enclosing directories, not mounts${fifo}`,
    )
  }
  // Without a view, proc and dev are rules on the host's own /proc and devices (hostRules),
  // never split: a mask or tmpfs under them (`tmpfs: /proc/sys`, `mask: /dev/urandom`) is in
  // their reach, which only the mount view would hide.
  const judged = hostRule
    ? [
        ...grants,
        ...entries.flatMap((entry) =>
          entry.kind === 'proc' || entry.kind === 'dev'
            ? hostRules(entry, undefined).map((r) => ({
                path: r.path,
                access: r.access,
                from: r.from,
                entry,
              }))
            : [],
        ),
      ]
    : grants
  for (const { entry, at } of hidden(entries, hostRule, fs)) {
    maskReach(entry, judged, inView, out, hostRule, at)
    if (entry.kind === 'tmpfs' && !out.has(entry)) shownElsewhere(entry, at, judged, out)
  }
  return out
}
