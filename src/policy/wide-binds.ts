// A bind of `/` (or of any ancestor of /sys, /dev, /proc) shows more than files: the host's
// kernel interfaces mounted below it — sysfs and its cgroupfs (a sandbox moving itself out of its
// pids limit, raising pids.max), devtmpfs (the host's device nodes), the host's proc. None of that
// is what `rw: /` means to ask for, so each kernel mount a bind reaches is kept from it unless
// the view names it itself: sysfs and the rest read-only, devtmpfs a private /dev, proc a fresh
// one. The run says loudly what such a wide bind still shows. Without a mount namespace a bind is
// a Landlock rule on the host's tree, which cannot leave a subtree out: a writable one becomes a
// rule per entry beside the kernel mounts, and read-only ones on them.
import { hostReaddir, hostReadText } from '../host/reads.js'
import { posix } from 'node:path'
import { type HostPaths, realHostPaths, resolveBindSources, under } from './bind-sources.js'
import { settleDests, settleLandlockPaths } from './view-dests.js'
import { maskLinkWarnings } from './mask-links.js'
import type { ResolvedPolicy, ViewEntry } from './resolved.js'

export interface KernelMount {
  point: string
  type: string
}

/** File systems that are the kernel's interfaces to the whole machine, not storage. */
export const KERNEL_FS = new Set([
  'sysfs',
  'proc',
  'devtmpfs',
  'cgroup',
  'cgroup2',
  'debugfs',
  'tracefs',
  'securityfs',
  'bpf',
  'pstore',
  'efivarfs',
  'configfs',
  'fusectl',
  'binfmt_misc',
  'devpts',
  'mqueue',
])

const unescape = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))

/** Every mount of this mount namespace, in mountinfo's order (parents before children). */
export function hostMounts(mountinfo?: string): KernelMount[] {
  let text = mountinfo
  if (text === undefined)
    try {
      text = hostReadText('/proc/self/mountinfo')
    } catch {
      text = ''
    }
  const all: KernelMount[] = []
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ')
    const point = left?.split(' ')[4]
    const type = right?.split(' ')[0]
    if (point && type) all.push({ point: unescape(point), type })
  }
  return all
}

/** The host's kernel mounts, outermost only (cgroupfs under /sys goes with /sys). */
export function hostKernelMounts(mountinfo?: string): KernelMount[] {
  const all = hostMounts(mountinfo).filter((m) => KERNEL_FS.has(m.type))
  return all.filter((m) => !all.some((o) => o.point !== m.point && under(m.point, o.point)))
}

/** The mounts strictly below a read-only bind's source, each with its place in the view, that
 * no deeper entry of the view covers: OCI runtimes before runc 1.2 make only the top of an
 * `rbind,ro` mount read-only, so the bundle binds each of these read-only again. */
export function readOnlySubmounts(
  filesystem: readonly ViewEntry[],
  b: Extract<ViewEntry, { kind: 'bind' }>,
  mounts: readonly KernelMount[] = hostMounts(),
): { src: string; dest: string }[] {
  const seen = new Set<string>()
  const kernel = mounts.filter((m) => KERNEL_FS.has(m.type))
  return mounts.flatMap((m) => {
    // Kernel mounts are kept by the view itself (guardWideBinds); autofs would mount on access.
    if (m.point === b.src || !under(m.point, b.src) || m.type === 'autofs' || seen.has(m.point)) return []
    if (kernel.some((k) => under(m.point, k.point))) return []
    seen.add(m.point)
    const dest = posix.join(b.dest, posix.relative(b.src, m.point))
    const covered = filesystem.some(
      (x) => x !== b && x.dest !== b.dest && under(x.dest, b.dest) && under(dest, x.dest),
    )
    return covered ? [] : [{ src: m.point, dest }]
  })
}

type Bind = Extract<ViewEntry, { kind: 'bind' }>

const spec = (b: Bind) => `${b.readOnly ? 'ro' : 'rw'}: ${b.src}${b.src === b.dest ? '' : `:${b.dest}`}`

const listDir = (dir: string): string[] => {
  try {
    return hostReaddir(dir).sort()
  } catch {
    return []
  }
}

/** A writable bind's source as one same-path bind per entry beside the kernel mounts it reaches,
 * which become read-only binds themselves (no mount namespace: Landlock rules on host paths). */
function splitAround(b: Bind, kernel: readonly KernelMount[], list: (dir: string) => string[]): Bind[] {
  return list(b.src).flatMap((name) => {
    const src = posix.join(b.src, name)
    if (kernel.some((k) => k.point === src)) return [{ ...b, src, dest: src, readOnly: true, optional: true }]
    if (kernel.some((k) => under(k.point, src))) return splitAround({ ...b, src, dest: src }, kernel, list)
    return [{ ...b, src, dest: src, optional: true }]
  })
}

const shownAs = (x: ViewEntry): string =>
  x.kind === 'bind'
    ? x.readOnly
      ? 'read-only'
      : 'WRITABLE (named by the policy)'
    : x.kind === 'dev'
      ? 'private'
      : x.kind === 'proc'
        ? 'a fresh proc'
        : x.kind === 'tmpfs'
          ? 'a private tmpfs'
          : x.kind

/** The view with every kernel mount a wide bind reaches kept from it, and what to say. */
export function guardWideBinds(
  policy: ResolvedPolicy,
  mounts: readonly KernelMount[] = hostKernelMounts(),
  list: (dir: string) => string[] = listDir,
): { filesystem: ViewEntry[]; warnings: string[] } {
  const out = [...policy.filesystem]
  const warnings: string[] = []
  for (const e of policy.filesystem) {
    if (e.kind !== 'bind') continue
    const inside = mounts.find((m) => under(e.src, m.point))
    if (inside && !e.readOnly)
      warnings.push(
        `${spec(e)} gives the sandbox write access to the host's ${inside.type} at ${inside.point}`,
      )
    const reached = mounts.filter((m) => m.point !== e.src && under(m.point, e.src))
    if (!reached.length) continue
    if (!policy.namespaces.mount) {
      if (e.readOnly) continue
      // A Landlock rule cannot leave a subtree out: the rule becomes one per entry beside the
      // kernel mounts, which get read-only ones (a new top-level entry cannot be created).
      const split = splitAround(e, reached, list)
      out.splice(out.indexOf(e), 1, ...split)
      warnings.push(
        `${spec(e)} without a mount namespace is a Landlock rule on each entry under ${e.src} (/root, /home, ` +
          `/run's sockets… as far as the sandbox's ids allow); read-only: ${reached.map((m) => m.point).join(', ')}`,
      )
      continue
    }
    const kept: string[] = []
    for (const m of reached) {
      const dest = posix.join(e.dest, posix.relative(e.src, m.point))
      // Named by the view itself, below this bind: the policy said what goes there.
      const named = out.findLast(
        (x) => x !== e && x.dest !== e.dest && under(x.dest, e.dest) && under(dest, x.dest),
      )
      if (named) {
        kept.push(`${dest} ${shownAs(named)}`)
        continue
      }
      if (m.type === 'devtmpfs') out.push({ kind: 'dev', dest })
      else if (m.type === 'proc' && policy.namespaces.pid) out.push({ kind: 'proc', dest })
      // Read-only and recursive: cgroupfs and the rest under /sys go with it. Under a read-only
      // bind too: an OCI runtime's `ro` may reach only the top of an rbind (runc 1.1).
      else out.push({ kind: 'bind', src: m.point, dest, readOnly: true, optional: true })
      kept.push(`${dest} ${shownAs(out.at(-1)!)}`)
    }
    if (e.idmap === false) continue // learn's and audit's own host view: no user statement
    warnings.push(
      `${spec(e)} is a wide bind: the sandbox sees${e.readOnly ? '' : ' and may write'} the host's whole tree under ` +
        `${e.src} (/root, /home, /run's sockets… as far as its ids allow` +
        (e.readOnly ? ')' : "; a root caller's sandbox writes there as the files' owners, root included)") +
        (kept.length ? `; kept from it: ${kept.join(', ')}` : ''),
    )
  }
  return { filesystem: out, warnings }
}

/** The host side of a resolved policy: bind sources resolved (bind-sources.ts), kernel mounts
 * kept from wide binds. Idempotent; run by resolution and again by compilePlan. */
export function settleHostView(
  policy: ResolvedPolicy,
  host: HostPaths = realHostPaths,
  mounts?: readonly KernelMount[],
): ResolvedPolicy {
  const view = policy.namespaces.mount
  const sources = resolveBindSources(policy.filesystem, host, view)
  const placed = view ? settleDests(sources, host) : sources
  const resolved = view
    ? {
        ...policy,
        filesystem: placed,
        landlock: { ...policy.landlock, paths: settleLandlockPaths(policy.landlock.paths, placed, host) },
      }
    : { ...policy, filesystem: sources }
  const { filesystem, warnings } = guardWideBinds(resolved, mounts)
  const settled: ResolvedPolicy = { ...resolved, filesystem }
  warnings.push(...maskLinkWarnings(filesystem))
  // Resolution's own warnings stay; the host view's are made anew each time (idempotent).
  warnings.unshift(...(policy.resolveWarnings ?? []))
  if (warnings.length) settled.warnings = warnings
  else delete settled.warnings
  return settled
}
