// A view entry's destination is a path of the view, and the launcher resolves it as the sandbox
// would (native/view.c: RESOLVE_IN_ROOT), following symlinks on its way. A symlink met there
// was read from a host directory through a bind, and one inside a writable bind may have been
// planted by an earlier run: `tmpfs: /proj/a/cache` under `rw: ./proj`, after a run replaced
// a/cache by a link to `/`, mounted the next run's tmpfs on the view's root, where it lay hidden,
// and its Landlock rule, opened by the same path, granted its rights to the whole view (/dev,
// /proc and every other writable mount that only Landlock narrowed). A mount placed elsewhere
// than its name also came in the wrong order (by the depth of its name, not of its place).
//
// So each destination is settled here, as masks are (bind-sources.ts settleMask): the links on
// its way judged by the rule for bind sources (followed only when no sandbox could have planted
// them, or when they are the policy's own `symlink` entries), the entry then placed where they
// lead, the path the policy named kept for messages. A destination that leads to the view's
// root is refused: nothing mounted there is seen.
import { posix } from 'node:path'
import { type HostPaths, refuse, untrusted } from './bind-sources.js'
import type { ViewEntry } from './resolved.js'
import { hostPathIn, type LinkReader, onceEach, resolveViewPath } from './view-paths.js'

const statement = (e: ViewEntry, dest: string) =>
  e.kind === 'bind'
    ? `${e.readOnly ? 'ro' : 'rw'}: ${e.src}${e.src === dest ? '' : `:${dest}`}`
    : `${e.kind}: ${dest}`

/** Why the link at a view path cannot be followed, or undefined: a `symlink` entry of the
 * policy, or a host link that only root could have made (bind-sources.ts untrusted). */
function linkDoubt(
  at: string,
  entries: readonly ViewEntry[],
  e: ViewEntry,
  host: HostPaths,
  writable: readonly string[],
): { host?: string; why: string } | undefined {
  const own = entries.findLast((o) => o !== e && o.dest === at && o.kind !== 'mkdir')
  if (own?.kind === 'symlink') return undefined
  const on = hostPathIn(entries, at, e)
  if (on === undefined) return undefined // no host name: the view's own (linkAt reads none there)
  const why = untrusted(on, host, writable)
  return why === undefined ? undefined : { host: on, why }
}

/** Each entry of a view at the place its destination leads (see above). Idempotent: a settled
 * destination has no link left on its way. */
export function settleDests(entries: readonly ViewEntry[], host: HostPaths): ViewEntry[] {
  const reader = onceEach<LinkReader>({ kind: (p) => host.stat(p).kind, readlink: (p) => host.readlink(p) })
  const writable = entries.flatMap((e) => (e.kind === 'bind' && !e.readOnly ? [e.src] : []))
  return entries.map((e): ViewEntry => {
    // Masks are settled with the host path they hide (bind-sources.ts); a destination of `/` is
    // the view's root itself.
    if (e.kind === 'mask' || e.dest === '/') return e
    const named = e.named ?? e.dest
    // A symlink entry's own name is made as it stands; the directory holding it is resolved.
    const { path, hops } = resolveViewPath(e.dest, reader, entries, {
      except: e,
      keepLast: e.kind === 'symlink',
    })
    if (!hops.length) return e
    for (const hop of hops) {
      const doubt = linkDoubt(hop.at, entries, e, host, writable)
      if (doubt)
        throw refuse(
          `\`${statement(e, named)}\`: its path passes through the symlink ${hop.at} -> ${hop.target} ` +
            `(${doubt.host === hop.at ? 'on the host' : `the host's ${doubt.host}`}), which a sandbox could have planted ` +
            `(${doubt.why}), and the entry would be placed where it leads. Remove the link if nothing of yours made it, ` +
            'or name the real path',
        )
    }
    if (path === '/')
      throw refuse(
        `\`${statement(e, named)}\` leads to the view's root (through ${hops.map((h) => `${h.at} -> ${h.target}`).join(', ')}): ` +
          'a mount there lies hidden beneath the root, and its rights would cover the whole view. ' +
          (e.kind === 'bind'
            ? 'Write `/` as the destination if the root is meant, or name another path'
            : 'Name another path'),
      )
    return { ...e, dest: posix.normalize(path), named }
  })
}
