// A view entry needs a name to stand on: a mount point (a bind, tmpfs, proc, dev, mask or file),
// a symlink or a directory. The launcher makes a missing one where the entry's path leads
// (native/view.c open_dest); inside a bind that is the host's directory, so a policy that only
// shows a file (`file:` under `rw: ./proj`) left an empty file in the project after the run. No
// layer can put a mount point in a writable host directory without that directory getting the
// name (an overlay would send the program's writes elsewhere), so such a view is refused, naming
// the entry and the fix; under a read-only bind the name cannot be made at all (EROFS), which the
// launcher reported only when it got there. Names made on the view's own mounts (its root, a
// tmpfs, /dev) stay private and are allowed.
import { posix } from 'node:path'
import { CordonError, type Issue } from '../errors.js'
import type { ViewEntry } from '../policy/resolved.js'
import { type LinkReader, mountAt, resolveViewPath, statementOf, under } from '../policy/view-paths.js'

/** Whether the entry's own mount point is a file (else a directory, or a symlink for `symlink`). */
function makesFile(e: ViewEntry, fs: LinkReader): boolean {
  if (e.kind === 'file') return true
  if (e.kind === 'bind') return fs.kind(e.src) === 'file'
  if (e.kind === 'mask') return fs.kind(e.host ?? e.dest) !== 'dir'
  return false
}

/** The shell command that makes the name on the host, for the message. */
function fixCommand(e: ViewEntry, hostPath: string, firstMissing: string, fs: LinkReader): string {
  const parents = firstMissing === hostPath ? '' : `mkdir -p ${posix.dirname(hostPath)} && `
  if (e.kind === 'symlink') return `${parents}ln -s ${e.target} ${hostPath}`
  if (makesFile(e, fs)) return `${parents}touch ${hostPath}`
  return `mkdir -p ${hostPath}`
}

/** What an entry would make in a host directory through the bind holding its path, or undefined
 * when its name exists there or lies on a mount of the view's own. `mounted`: the entries that
 * put a mount in the view (an optional bind or a mask with nothing on this host puts none). */
function hostNameFor(
  e: ViewEntry,
  mounted: readonly ViewEntry[],
  fs: LinkReader,
  gofer: boolean,
): Issue | undefined {
  if (e.dest === '/') return undefined
  // Only a bind (the host's names) or a symlink entry above it can lead a path onto the host:
  // without one the name is made on the view's own mounts, and nothing needs reading.
  const above = (o: ViewEntry) =>
    (o.kind === 'bind' || o.kind === 'symlink') && o.dest !== e.dest && under(e.dest, o.dest)
  if (!mounted.some(above)) return undefined
  // The launcher follows symlinks on the way (RESOLVE_IN_ROOT); a symlink entry's own name is
  // made as it stands.
  const parent = resolveViewPath(posix.dirname(e.dest), fs, mounted, { except: e }).path
  const base = posix.basename(e.dest)
  const at =
    e.kind === 'symlink'
      ? posix.join(parent, base)
      : resolveViewPath(posix.join(parent, base), fs, mounted, { except: e }).path
  // gVisor's tmpfs, proc and /dev exist only in its own kernel: runsc's gofer makes a bind's
  // mount point on the host, beneath them, through a read-only bind as well.
  const holder = mountAt(gofer ? mounted.filter((m) => m.kind === 'bind') : mounted, at, e)
  if (holder?.kind !== 'bind') return undefined
  const rel = posix.relative(holder.dest, at)
  if (!rel) return undefined
  let hostPath = holder.src
  let missing: string | undefined
  for (const name of rel.split('/')) {
    hostPath = posix.join(hostPath, name)
    if (!missing && fs.kind(hostPath) === 'missing') missing = hostPath
  }
  if (!missing) return undefined
  const named = e.named ?? e.dest
  const where = at === named ? at : `${at} (where ${named} leads)`
  const fix = fixCommand(e, hostPath, missing, fs)
  const message = gofer
    ? `\`${statementOf(e)}\` would leave ${missing} behind in the host directory ${holder.src}: gVisor's gofer makes ` +
      `the mount points of binds on the host, through \`${statementOf(holder)}\` and beneath gVisor's own tmpfs and /dev, ` +
      `and they stay after the run. Create it on the host first if it belongs there (\`${fix}\`), or place the entry outside the bind`
    : holder.readOnly
      ? `\`${statementOf(e)}\` needs ${where} to exist in the read-only bind \`${statementOf(holder)}\`, and ${missing} is not on the host: ` +
        `create it there first (\`${fix}\`), or place the entry outside the bind`
      : `\`${statementOf(e)}\` would leave ${missing} behind in the host directory ${holder.src} (shown writable by ` +
        `\`${statementOf(holder)}\`): its ${e.kind === 'symlink' || e.kind === 'mkdir' ? 'name' : 'mount point'} would be made there, and stay after the run. ` +
        `Create it on the host first if it belongs there (\`${fix}\`), or place the entry outside the writable bind (on a tmpfs, or another path)`
  return { code: 'conflict', path: ['filesystem'], message }
}

/** Refuses a view whose entries would create names in host directories (see above). `kept`: the
 * entries compileView keeps; `puts`: whether an entry puts anything in the view on this host;
 * `gofer`: the view is gVisor's, whose binds' mount points runsc makes on the host beneath its
 * own mounts. */
export function refuseHostMountPoints(
  kept: readonly ViewEntry[],
  puts: (e: ViewEntry) => boolean,
  fs: LinkReader,
  gofer = false,
): void {
  const mounted = kept.filter(puts)
  const issues = mounted.flatMap((e) => hostNameFor(e, mounted, fs, gofer) ?? [])
  if (!issues.length) return
  throw new CordonError('invalid_policy', `Refused:\n  ${issues.map((i) => i.message).join('\n  ')}`, {
    issues,
  })
}
