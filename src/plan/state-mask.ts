// cordon's own state directory (run/state-dir.ts) is never shown to a sandbox. It holds every
// running sandbox's record (its command line, arguments and all) and the event socket that
// streams what it does: a plain user's sandbox with a wide bind (`--ro /`, `--ro /run`) read the
// others' records and could connect to their sockets as their owner (the socket's only check is
// the filesystem's); a writable one could replace them. Where a bind of the view shows the
// directory, a mask hides it there, as the policy's own masks hide a path: an empty read-only
// tmpfs in a mount namespace, Landlock rules split around it without one.
import { posix } from 'node:path'
import { CordonError } from '../errors.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { hostPathIn, latestAtEachPlace, resolveViewPath, under } from '../policy/view-paths.js'
import { stateLayout } from '../run/state-dir.js'
import { type HostFs, realHostFs } from './view.js'

/** The caller's state directories as they stand on the host, links resolved: the outermost one
 * cordon creates (/tmp/cordon-UID holds the runtimes' state besides), when it exists. A missing
 * one has nothing to hide yet: spawn() makes it before it compiles. */
function stateDirs(uid: number, fs: HostFs): string[] {
  const first = stateLayout(uid).create[0]!
  const real = resolveViewPath(first, fs, undefined).path
  return fs.kind(real) === 'dir' ? [real] : []
}

/** policy with a mask wherever its view shows the caller's state directory (through a bind of
 * a directory above it). A bind of the directory itself or of anything in it is refused: no
 * policy may show it. */
export function hideStateDir(policy: ResolvedPolicy, uid: number, fs: HostFs = realHostFs): ResolvedPolicy {
  const added: ViewEntry[] = []
  for (const dir of stateDirs(uid, fs))
    for (const e of latestAtEachPlace(policy.filesystem)) {
      if (e.kind !== 'bind') continue
      if (under(e.src, dir))
        throw new CordonError(
          'invalid_policy',
          `Invalid policy: the bind of ${e.src} shows cordon's state directory ${dir} (every sandbox's record ` +
            'and event socket), which no sandbox may see; bind another directory',
        )
      if (!under(dir, e.src)) continue
      const dest = posix.join(e.dest, posix.relative(e.src, dir))
      if (hostPathIn(policy.filesystem, dest) !== dir) continue // another entry replaces it there
      if (!added.some((m) => m.dest === dest)) added.push({ kind: 'mask', dest, host: dir })
    }
  return added.length ? { ...policy, filesystem: [...policy.filesystem, ...added] } : policy
}
