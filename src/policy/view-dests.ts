// A view entry's destination is a path of the view, and the launcher resolves it as the sandbox
// would (native/view.c: RESOLVE_IN_ROOT), following symlinks on its way. A symlink met there
// was read from a host directory through a bind, and one inside a writable bind may have been
// planted by an earlier run: `tmpfs: /proj/a/cache` under `rw: ./proj`, after a run replaced
// a/cache by a link to `/`, mounted the next run's tmpfs on the view's root, where it lay hidden,
// and its Landlock rule, opened by the same path, granted its rights to the whole view (/dev,
// /proc and every other writable mount that only Landlock narrowed). A mount placed elsewhere
// than its name also came in the wrong order (by the depth of its name, not of its place).
//
// So each destination is settled here, as masks are (bind-sources.ts settleMask): a link on its
// way that this policy's sandbox could have planted is refused (linkDoubt), the entry is placed
// where the others lead, and the path the policy named is kept for messages. A destination that
// leads to the view's root is refused: nothing mounted there is seen. What the host holds can
// change between this and the start: the launcher checks each mount in a host directory lands
// where its path leads without a link (native/view.c check_way, BIND_SETTLED) and opens the
// view's Landlock rules without following one (plan/landlock.ts).
import { posix } from 'node:path'
import { type HostPaths, refuse } from './bind-sources.js'
import type { ViewEntry } from './resolved.js'
import {
  hostPathIn,
  isLinkBind,
  type LinkReader,
  onceEach,
  resolveViewPath,
  statementOf,
  under,
} from './view-paths.js'

/** Why the link at a view path cannot be followed, or undefined. The policy's own `symlink`
 * entries are followed. A host link is not when this policy's sandbox can write where it lies
 * (inside a writable bind: planted by an earlier run, or swapped in by a concurrent one), or
 * when a user other than root and the caller owns it. Any other link is followed: the entry is
 * then placed, mounted and granted where the link leads, all three alike, and what it shows is
 * still only what the policy grants (a bind's source is judged by bind-sources.ts). */
function linkDoubt(
  at: string,
  entries: readonly ViewEntry[],
  e: ViewEntry | undefined,
  host: HostPaths,
  writable: readonly string[],
  caller: number,
): { host: string; why: string } | undefined {
  const own = entries.findLast((o) => o !== e && o.dest === at && o.kind !== 'mkdir')
  if (own?.kind === 'symlink') return undefined
  const on = hostPathIn(entries, at, e)
  if (on === undefined) return undefined // no host name: the view's own (linkAt reads none there)
  const inside = writable.find((w) => under(on, w))
  if (inside) return { host: on, why: `it lies inside the writable bind ${inside}` }
  const uid = host.stat(on).uid
  if (uid !== 0 && uid !== caller) return { host: on, why: `it is owned by uid ${uid}` }
  return undefined
}

/** What settling asks: the host, the view's entries that put something there, and who could
 * have planted a link. */
interface Settler {
  reader: LinkReader
  host: HostPaths
  /** The entries as compileView keeps them: an optional bind with nothing on this host, or a
   * mask of nothing, mounts nothing, and the host directory beneath shows through. */
  present: ViewEntry[]
  writable: string[]
  caller: number
}

function settler(entries: readonly ViewEntry[], host: HostPaths, caller: number): Settler {
  const reader = onceEach<LinkReader>({ kind: (p) => host.stat(p).kind, readlink: (p) => host.readlink(p) })
  const present = entries.filter((e) =>
    e.kind === 'bind'
      ? !e.optional || reader.kind(e.src) !== 'missing'
      : e.kind !== 'mask' || reader.kind(e.host ?? e.dest) !== 'missing',
  )
  const writable = entries.flatMap((e) => (e.kind === 'bind' && !e.readOnly ? [e.src] : []))
  return { reader, host, present, writable, caller }
}

/** Where `path` leads in the view, judged by linkDoubt; `what` names the statement in messages.
 * `e`: the entry being placed (its own mount is not there yet). */
function settlePath(s: Settler, path: string, what: string, e?: ViewEntry, keepLast = false): string {
  const { path: to, hops } = resolveViewPath(path, s.reader, s.present, {
    ...(e ? { except: e } : {}),
    keepLast,
  })
  if (!hops.length) return path
  for (const hop of hops) {
    const doubt = linkDoubt(hop.at, s.present, e, s.host, s.writable, s.caller)
    if (doubt)
      throw refuse(
        `\`${what}\`: its path passes through the symlink ${hop.at} -> ${hop.target} ` +
          `(${doubt.host === hop.at ? 'on the host' : `the host's ${doubt.host}`}), which a sandbox could have planted ` +
          `(${doubt.why}), and the entry would be placed where it leads. Remove the link if nothing of yours made it, ` +
          'or name the real path',
      )
  }
  if (to === '/')
    throw refuse(
      `\`${what}\` leads to the view's root (through ${hops.map((h) => `${h.at} -> ${h.target}`).join(', ')}): ` +
        (e ? 'a mount there lies hidden beneath the root, and its' : 'its') +
        ' rights would cover the whole view. ' +
        (e?.kind === 'bind'
          ? 'Write `/` as the destination if the root is meant, or name another path'
          : 'Name another path'),
    )
  return posix.normalize(to)
}

/** Each entry of a view at the place its destination leads (see above). Idempotent: a settled
 * destination has no link left on its way. Passes repeat until none moves: an entry placed by
 * one pass can hold a host link on a later entry's way that the pass judged through the old
 * places (helper-122: three nested binds put `proc:` on the view's root). */
export function settleDests(
  entries: readonly ViewEntry[],
  host: HostPaths,
  caller = process.getuid?.() ?? 0,
): ViewEntry[] {
  let current = [...entries]
  // Each pass settles at least one more level of nesting, or nothing moves.
  for (let pass = 0; pass <= entries.length; pass++) {
    const s = settler(current, host, caller)
    const next = current.map((e) => settleEntry(s, e))
    if (next.every((e, i) => e === current[i])) return next
    current = next
  }
  throw refuse("the view's destinations keep moving through symlinks: name their real paths")
}

function settleEntry(s: Settler, e: ViewEntry): ViewEntry {
  // Masks are settled with the host path they hide (bind-sources.ts); a destination of `/` is
  // the view's root itself.
  if (e.kind === 'mask' || e.dest === '/') return e
  const named = e.named ?? e.dest
  // A symlink entry's own name is made as it stands, and so is a same-path bind of a host
  // link, which the view reproduces as the link (bind-sources.ts resolveSource); the
  // directory holding it is resolved.
  const dest = settlePath(s, e.dest, statementOf(e), e, e.kind === 'symlink' || isLinkBind(e, s.reader))
  return dest === e.dest ? e : { ...e, dest, named }
}

/** `landlock.paths` in a view, settled as destinations are: a rule's path is a path of the view,
 * opened by the launcher without following a link (plan/landlock.ts). */
export function settleLandlockPaths<P extends { path: string }>(
  paths: readonly P[],
  entries: readonly ViewEntry[],
  host: HostPaths,
  caller = process.getuid?.() ?? 0,
): P[] {
  const s = settler(entries, host, caller)
  return paths.map((p, i) => {
    const path = p.path === '/' ? p.path : settlePath(s, p.path, `landlock.paths[${i}] ${p.path}`)
    return path === p.path ? p : { ...p, path }
  })
}
