// cordon's own state directory (run/state-dir.ts) is never shown to a sandbox. It holds every
// running sandbox's record (its command line, arguments and all) and the event socket that
// streams what it does: a plain user's sandbox with a wide bind (`--ro /`, `--ro /run`) read the
// others' records and could connect to their sockets as their owner (the socket's only check is
// the filesystem's); a writable one could replace them. Every place the caller's state may be
// is hidden (stateDirCandidates), the runtimes' for a root caller too. Where a bind of the view
// shows one, a mask hides it there, as the policy's own masks hide a path: an empty read-only
// tmpfs in a mount namespace, Landlock rules split around it without one (which cannot keep
// connect() off its sockets: the `no-view` gap says so).
import { posix } from 'node:path'
import { CordonError } from '../errors.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { hostPathIn, latestAtEachPlace, resolveViewPath, under } from '../policy/view-paths.js'
import { stateLayout, xdgPlaces } from '../host/state-places.js'
import { type HostFs, realHostFs } from './view.js'

/** Where cordon keeps a caller's state, every place it may be (host/state-places.ts xdgPlaces:
 * the outermost directory each place creates), and for root the runtime backends' state, runc's
 * and runsc's (each container's whole spec). */
export function stateDirCandidates(uid: number, env: NodeJS.ProcessEnv = process.env): string[] {
  const own = xdgPlaces(uid, env).map((xdg) => stateLayout(uid, xdg).create[0]!)
  return uid === 0 ? [...own, '/run/runc', '/var/run/runsc', '/run/runsc'] : own
}

/** The caller's state directories as they stand on the host, links resolved, those that exist.
 * A missing one has nothing to hide yet: spawn() makes its own before it compiles. */
function stateDirs(uid: number, fs: HostFs): string[] {
  const real = stateDirCandidates(uid).map((p) => resolveViewPath(p, fs, undefined).path)
  return [...new Set(real)].filter((p) => fs.kind(p) === 'dir')
}

/** policy with a mask wherever its view shows the caller's state directory (through a bind of
 * a directory above it). A bind of the directory itself or of anything in it is refused: no
 * policy may show it. */
export function hideStateDir(policy: ResolvedPolicy, uid: number, fs: HostFs = realHostFs): ResolvedPolicy {
  const added: ViewEntry[] = []
  const warnings: string[] = []
  for (const dir of stateDirs(uid, fs))
    for (const e of latestAtEachPlace(policy.filesystem)) {
      if (e.kind !== 'bind') continue
      if (under(e.src, dir))
        throw new CordonError(
          'invalid_policy',
          `Refused: the bind of ${e.src} shows cordon's state directory ${dir} (every sandbox's record ` +
            'and event socket), which no sandbox may see; bind another directory',
        )
      if (!under(dir, e.src)) continue
      const dest = posix.join(e.dest, posix.relative(e.src, dir))
      if (hostPathIn(policy.filesystem, dest) !== dir) continue // another entry replaces it there
      if (added.some((m) => m.dest === dest)) continue
      added.push({ kind: 'mask', dest, host: dir })
      // Landlock cannot leave a subtree out of a grant: the tree's entries are granted one by
      // one (plan/landlock-masks.ts), so what the program makes there anew gets no right.
      if (!policy.namespaces.mount && !e.readOnly)
        warnings.push(
          `${e.src} is writable without a mount namespace and holds cordon's state directory ${dir}, which no ` +
            `sandbox may see: Landlock grants what ${e.src} holds now entry by entry, so new names on the way ` +
            `to ${dir} are refused; run with namespaces`,
        )
    }
  if (!added.length) return policy
  return {
    ...policy,
    filesystem: [...policy.filesystem, ...added],
    ...(warnings.length ? { warnings: [...(policy.warnings ?? []), ...warnings] } : {}),
  }
}
