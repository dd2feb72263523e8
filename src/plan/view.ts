// The filesystem view → ordered mount operations. Later entries replace earlier ones at the same
// destination; parents are mounted before children (stable by depth), so `ro: /` followed by
// `tmpfs: /tmp` and the reverse mean the same thing.
import { hostDirents, hostLstat, hostReadlink, hostReadPublicText } from '../host/reads.js'
import { posix } from 'node:path'
import type { PlanOp } from './model.js'
import { refuseHostMountPoints } from './mount-points.js'
import { isLinkBind, mountAt, onceEach } from '../policy/view-paths.js'
import type { ViewEntry } from '../policy/resolve.js'
import { accessMask, FS } from '../landlock/rights.js'

export type HostKind = 'file' | 'dir' | 'symlink' | 'missing'

/** What the compiler may ask of the host filesystem (injectable for pure tests). */
export interface HostFs {
  kind(path: string): HostKind
  readlink(path: string): string
  /** Entries of a directory and their kinds ([] when unreadable). */
  list(path: string): { name: string; kind: Exclude<HostKind, 'missing'> }[]
  /** A file's text where any process could read it through the bind whose source is `from`
   * (host/reads.ts hostReadPublicText), else undefined; a host without it reads nothing. */
  publicText?(path: string, from: string, max: number): string | undefined
}

export const realHostFs: HostFs = {
  kind(path) {
    try {
      const st = hostLstat(path)
      if (!st) return 'missing'
      return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file'
    } catch {
      return 'missing'
    }
  },
  readlink: (path) => hostReadlink(path),
  publicText: (path, from, max) => hostReadPublicText(path, from, max),
  list(path) {
    try {
      return hostDirents(path).map((d) => ({
        name: d.name,
        kind: d.isSymbolicLink() ? 'symlink' : d.isDirectory() ? 'dir' : 'file',
      }))
    } catch {
      return []
    }
  },
}

/** The device nodes a `dev:` entry shows (read-only binds of the host's). */
export const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const

/** Files of a fresh proc that show or act on the whole machine rather than the sandbox: kernel
 * memory and its layout (kcore, kallsyms, vmallocinfo, slabinfo, pagetypeinfo, iomem, kpage*),
 * the host's keys, kernel log and timers, hardware. runc's masked list and the rest of its kind;
 * each is hidden (an unopenable file, an empty directory) when this kernel has it. */
export const PROC_MASKED = [
  'acpi',
  'asound',
  'buddyinfo',
  'interrupts',
  'iomem',
  'ioports',
  'kallsyms',
  'kcore',
  'key-users',
  'keys',
  'kmsg',
  'kpagecgroup',
  'kpagecount',
  'kpageflags',
  'latency_stats',
  'mtrr',
  'pagetypeinfo',
  'sched_debug',
  'schedstat',
  'scsi',
  'slabinfo',
  'timer_list',
  'timer_stats',
  'vmallocinfo',
  'zoneinfo',
] as const

/** Files of the sandbox's init (pid 1 of its pid namespace, cordon's) the command could write
 * where it shares init's host uid (`--host-root`): its autogroup's nice, which is the caller's
 * whole session's (the supervisor and the launcher with it): `echo 19 > /proc/1/autogroup`
 * delayed a fork-storm freeze and the timeout from 4 s to 52 s (helper-147); its OOM score,
 * which made init the kernel's first victim (helper-149); its pages' referenced bits
 * (clear_refs), which put them first in line for reclaim; what its core would hold, and its
 * scheduler statistics (coredump_filter, sched). Each also under init's one thread, task/1,
 * where the same files act on the same process (helper-150, helper-151). */
export const PROC_INIT_MASKED = [
  '1/autogroup',
  '1/oom_score_adj',
  '1/oom_adj',
  '1/clear_refs',
  '1/coredump_filter',
  '1/sched',
  '1/task/1/oom_score_adj',
  '1/task/1/oom_adj',
  '1/task/1/clear_refs',
  '1/task/1/sched',
] as const

/** What runc masks of the same: the list cordon's OCI bundles ask runc for. */
export const procMaskedPaths = (proc = '/proc'): string[] => PROC_MASKED.map((n) => `${proc}/${n}`)

const under = (path: string, dir: string) => path.startsWith(dir === '/' ? '/' : `${dir}/`)

function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1
}

/** A minimal /dev: the harmless character devices, std streams, a private devpts and shm. */
function devOps(dest: string, tmpfsSize = 0): PlanOp[] {
  const at = (name: string) => (dest === '/' ? `/${name}` : `${dest}/${name}`)
  return [
    { op: 'tmpfs', dest, size: 1 << 20, mode: 0o755, flags: { noexec: true } },
    ...DEVICES.map((d): PlanOp => ({
      op: 'bind',
      src: `/dev/${d}`,
      dest: at(d),
      // Read-only: reading and writing a device goes on, changing its metadata (chmod, chown,
      // utimes) on the host's node does not.
      flags: { dev: true, readOnly: true, optional: d === 'tty' },
    })),
    { op: 'symlink', target: '/proc/self/fd', dest: at('fd') },
    { op: 'symlink', target: '/proc/self/fd/0', dest: at('stdin') },
    { op: 'symlink', target: '/proc/self/fd/1', dest: at('stdout') },
    { op: 'symlink', target: '/proc/self/fd/2', dest: at('stderr') },
    { op: 'devpts', dest: at('pts') },
    { op: 'symlink', target: 'pts/ptmx', dest: at('ptmx') },
    // noexec: a place every program may write is no place to run one from (nosuid, nodev
    // are every tmpfs's).
    { op: 'tmpfs', dest: at('shm'), size: tmpfsSize, mode: 0o1777, flags: { noexec: true } },
  ]
}

/** A directory becomes an empty read-only tmpfs; a file a nodev bind of /dev/null, so opening it
 * fails EACCES. Nothing to hide when it is missing. */
function maskOps(dest: string, kind: HostKind): PlanOp[] {
  if (kind === 'missing') return []
  if (kind === 'dir') return [{ op: 'tmpfs', dest, size: 4096, mode: 0o755, flags: { readOnly: true } }]
  return [{ op: 'bind', src: '/dev/null', dest, flags: { readOnly: true } }]
}

export interface ViewOptions {
  /** Writable binds become idmapped mounts (a root caller's remapped sandbox, plan/compile.ts). */
  idmapWritable?: boolean
  /** Bytes all tmpfs without a size of their own share, evenly (0: the kernel's default each). */
  tmpfsBudget?: number
  /** Set by compileView from the budget: each unsized tmpfs's share. */
  tmpfsSize?: number
  /** The view is run by gVisor (runsc), whose gofer makes bind mount points on the host beneath
   * tmpfs, proc and /dev mounts (plan/mount-points.ts). */
  gofer?: boolean
  /** Paths the policy's `landlock.paths` grant `execute` on (noexecWhere). */
  execGranted?: readonly string[]
}

/** Whether e's mount is noexec: Landlock's execute right is asked at execve only, so a file that
 * a bind or tmpfs without it shows still ran through ld.so, which maps it with mmap(PROT_EXEC)
 * (helper-137: `ld.so /srv/rw/prog`, the bind said `full`). A noexec mount refuses both, where
 * the entry's own rights lack execute and no `landlock.paths` rule grants it inside. */
export function noexecWhere(e: ViewEntry, options: Pick<ViewOptions, 'execGranted'>): boolean {
  if (e.kind === 'tmpfs' && e.exec === false) return true
  return withoutExecute(e) && !(options.execGranted ?? []).some((p) => p === e.dest || under(p, e.dest))
}

/** The `landlock.paths` rules of a policy that grant execute. */
export function execGrants<P extends { path: string; access: string[] }>(policy: {
  landlock: { paths: readonly P[] }
}): P[] {
  return policy.landlock.paths.filter((p) => (accessMask(p.access).mask & FS.execute) !== 0n)
}

/** The paths a policy's `landlock.paths` grant execute on (ViewOptions.execGranted). */
export function execGranted(policy: {
  landlock: { paths: readonly { path: string; access: string[] }[] }
}): string[] {
  return execGrants(policy).map((p) => p.path)
}

/** A bind or tmpfs whose own rights lack Landlock's execute. */
export function withoutExecute(e: ViewEntry): boolean {
  if (e.kind === 'tmpfs' && e.exec === false) return true
  if ((e.kind !== 'bind' && e.kind !== 'tmpfs') || e.access === undefined) return false
  return (accessMask(e.access).mask & FS.execute) === 0n
}

function entryOps(e: ViewEntry, fs: HostFs, notes: string[], options: ViewOptions = {}): PlanOp[] {
  switch (e.kind) {
    case 'bind': {
      const kind = fs.kind(e.src)
      if (kind === 'missing' && e.optional) {
        notes.push(`skipped optional ${e.src}: not present on this host`)
        return []
      }
      // Reproduce a same-path symlink (/bin -> usr/bin on merged-/usr systems) as a symlink.
      if (kind === 'symlink' && e.src === e.dest)
        return [{ op: 'symlink', target: fs.readlink(e.src), dest: e.dest }]
      // Its source has no symlink on the way (policy/bind-sources.ts resolved it, or refused a
      // writable one); the launcher opens it with RESOLVE_NO_SYMLINKS, so none can be swapped in.
      const idmap = !e.readOnly && options.idmapWritable && e.idmap !== false
      return [
        {
          op: 'bind',
          src: e.src,
          dest: e.dest,
          flags: {
            readOnly: e.readOnly,
            optional: e.optional,
            ...(idmap ? { idmap } : {}),
            ...(noexecWhere(e, options) ? { noexec: true } : {}),
          },
        },
      ]
    }
    case 'tmpfs':
      return [
        {
          op: 'tmpfs',
          dest: e.dest,
          size: e.size || (options.tmpfsSize ?? 0),
          mode: e.mode,
          flags: noexecWhere(e, options) ? { noexec: true } : {},
        },
      ]
    case 'proc':
      // A fresh proc shows what the host's does (one kernel): the host's /proc says what exists.
      return [
        { op: 'proc', dest: e.dest },
        ...[...PROC_MASKED, ...PROC_INIT_MASKED].flatMap((name) =>
          maskOps(`${e.dest}/${name}`, fs.kind(`/proc/${name}`)),
        ),
      ]
    case 'dev':
      return devOps(e.dest, options.tmpfsSize)
    case 'mask':
      return maskOps(e.dest, fs.kind(e.host ?? e.dest))
    case 'symlink':
      return [{ op: 'symlink', target: e.target, dest: e.dest }]
    case 'file':
      return [{ op: 'file', dest: e.dest, mode: e.mode, content: e.content }]
    case 'mkdir':
      return [{ op: 'mkdir', dest: e.dest, mode: e.mode }]
  }
}

/**
 * A mask's mount sits on a dentry, not a name: in a writable bind granted whole (plan/landlock-
 * masks.ts carvesMasks) the program could rename a directory on the mask's way (`mv sub sub2`),
 * the mount going along, and leave the host's secret at sub2/secret, where the next run's mask,
 * which hides sub/secret by name, no longer is. Each directory between the bind and the mask
 * becomes a mount point of its own (a bind of itself, as its bind shows it): the kernel refuses
 * to rename or remove a mount point (EBUSY), so the masked path stays where the mask names it.
 */
function pinMaskWays(
  kept: readonly ViewEntry[],
  each: Map<ViewEntry, PlanOp[]>,
  fs: HostFs,
  notes: string[],
  options: ViewOptions,
): PlanOp[] {
  const pinned = new Set<string>()
  const out: PlanOp[] = []
  for (const m of kept) {
    // A read-only carve-out (`ro: P/sub/.git` in `rw: P`) is a mask of the write rights: a
    // rename of its parent would leave the next run's carve-out nothing to cover (an optional
    // one is then skipped, and the tree is writable).
    const carve = m.kind === 'mask' || (m.kind === 'bind' && m.readOnly)
    if (!carve || !each.get(m)?.length) continue
    const holder = mountAt(kept, m.dest, m)
    if (holder?.kind !== 'bind' || holder.readOnly) continue
    const rel = posix.relative(holder.dest, posix.dirname(m.dest))
    if (!rel || rel.startsWith('..')) continue
    let view = holder.dest
    let src = holder.src
    for (const name of rel.split('/')) {
      view = posix.join(view, name)
      src = posix.join(src, name)
      if (pinned.has(view) || fs.kind(src) !== 'dir') continue
      pinned.add(view)
      notes.push(
        `${m.kind === 'mask' ? 'mask' : 'ro'} ${m.dest}: ${view} pinned (a mount point cannot be renamed away from it)`,
      )
      out.push(...entryOps({ ...holder, src, dest: view, optional: false }, fs, notes, options))
    }
  }
  return out
}

/** Compiles the view to root … pivot_root; the root itself ends read-only, unless the policy
 * binds a host directory there writable (`rw: /`: what it asks for, said loudly by the run), as
 * learn and audit do (learn.ts traceView: never idmapped). Their top was kept read-only, and a
 * traced program's write outside the working directory failed with EROFS where unobserved it
 * succeeded; audit then reported it as "would have denied" (helper-134). The kernel's mounts a
 * wide bind reaches stay read-only either way (wide-binds.ts). */
export function compileView(
  entries: ViewEntry[],
  notes: string[],
  host: HostFs = realHostFs,
  options: ViewOptions = {},
): PlanOp[] {
  const fs = onceEach(host)
  const seen = new Map<string, ViewEntry>()
  for (const e of entries) {
    const prev = seen.get(e.dest)
    if (prev !== undefined) notes.push(`${e.dest}: ${prev.kind} replaced by a later ${e.kind}`)
    seen.set(e.dest, e)
  }
  const latest = entries.filter((e) => seen.get(e.dest) === e)
  // Beneath a masked directory (an empty read-only tmpfs) a mask has nothing left to hide; only
  // a mask that is kept (not replaced by a later entry at its place) and mounts one counts.
  const hiding = latest.filter((m) => m.kind === 'mask' && fs.kind(m.host ?? m.dest) === 'dir')
  const kept = latest.filter((e) => {
    const inside = hiding.find((m) => m !== e && under(e.dest, m.dest))
    if (e.kind === 'mask' && inside) notes.push(`mask ${e.dest}: already hidden by mask ${inside.dest}`)
    return !(e.kind === 'mask' && inside)
  })
  for (const e of kept)
    if (e.named)
      notes.push(
        e.kind === 'mask'
          ? `mask ${e.named}: reached through a symlink, hides ${e.dest}`
          : `${e.kind} ${e.named}: reached through a symlink, placed at ${e.dest}`,
      )
  const unsized = kept.filter((e) => (e.kind === 'tmpfs' && !e.size) || e.kind === 'dev').length
  const share =
    options.tmpfsBudget && unsized
      ? Math.max(1 << 20, Math.floor(options.tmpfsBudget / unsized / 4096) * 4096)
      : 0
  const each = new Map(kept.map((e) => [e, entryOps(e, fs, notes, { ...options, tmpfsSize: share })]))
  // A same-path bind of a host link is the link (entryOps): where its target is not in the view
  // it leads nowhere (`--ro /var/run` without /run), which the plan showed as a full bind.
  for (const e of kept) {
    if (e.kind !== 'bind' || !isLinkBind(e, fs)) continue
    const target = fs.readlink(e.src)
    const to = posix.resolve(posix.dirname(e.dest), target)
    if (!visibleInView(kept, to))
      notes.push(
        `bind ${e.dest}: the link -> ${target} as on the host, and the view does not show ${to} (add \`ro: ${to}\` to show it)`,
      )
  }
  refuseHostMountPoints(kept, (e) => (each.get(e)?.length ?? 0) > 0, fs, options.gofer === true)
  // A mount whose way passes through a host directory: a sandbox that can write there (this
  // policy's, or another's sharing it) could swap a link in after the plan was made.
  const holders = kept.filter((e) => e.kind === 'bind' && (each.get(e)?.length ?? 0) > 0)
  const settled = (op: PlanOp): PlanOp =>
    (op.op === 'bind' || op.op === 'tmpfs') && holders.some((h) => under(op.dest, h.dest))
      ? { ...op, flags: { ...op.flags, settled: true } }
      : op
  const ops = [...kept.flatMap((e) => each.get(e)!), ...pinMaskWays(kept, each, fs, notes, options)].map(
    settled,
  )
  const destOf = (op: PlanOp) => ('dest' in op ? op.dest : '/')
  const sorted = ops
    .map((op, i) => ({ op, i }))
    .sort((a, b) => depth(destOf(a.op)) - depth(destOf(b.op)) || a.i - b.i)
    .map((x) => x.op)
  const writableRoot = kept.some((e) => e.kind === 'bind' && e.dest === '/' && !e.readOnly)
  return [
    { op: 'root', mode: 0o755 },
    ...sorted,
    ...(writableRoot ? [] : [{ op: 'remount_ro' as const, dest: '/' }]),
    { op: 'pivot_root' },
  ]
}

/** True when path exists in the view at start: at or below a bind, or a tmpfs's own mount
 * point. The deepest entry decides: /tmp/proj under a tmpfs /tmp is not there (the tmpfs starts
 * empty) unless a bind puts it there. */
export function visibleInView(entries: ViewEntry[], path: string): boolean {
  const covers = (dest: string) => path === dest || path.startsWith(dest === '/' ? '/' : `${dest}/`)
  let deepest: ViewEntry | undefined
  for (const e of entries)
    if ((e.kind === 'bind' || e.kind === 'tmpfs') && covers(e.dest))
      if (!deepest || e.dest.length >= deepest.dest.length) deepest = e
  if (!deepest) return false
  return deepest.kind === 'bind' || path === deepest.dest
}
