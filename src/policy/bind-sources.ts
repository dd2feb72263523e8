// Bind sources are host paths, and a host path may pass through a symlink that an earlier run
// planted in a directory it could write (`ln -s /etc cfg` under `--rw .`): followed blindly, the
// next run's `--ro ./cfg:/cfg` shows /etc/shadow, `--rw ./out/cron.d` hands out root's cron
// jobs. Each source is resolved here, component by component, to the real path the launcher
// then binds (and opens with RESOLVE_NO_SYMLINKS, native/view.c, so nothing can be swapped in
// between). The rule for a symlink on the way:
//
// - a writable bind never passes through one: it writes wherever the link points;
// - a read-only bind follows one only when no sandbox could have planted it: the link and every
//   directory above it are root's and writable by no one else, and it lies in no writable bind
//   of this policy (merged /usr's /lib -> usr/lib, /etc/resolv.conf -> /run/… pass);
// - a followed link must not land at or below a secret or masked path (/etc/shadow, /etc/ssh…).
//
// The policy's masks then follow the host path they hide: wherever another bind shows it again
// (`ro: /etc:/cfg` next to `mask: /etc/shadow`), it is masked there too.
import { hostLstat, hostReadlink } from '../host/reads.js'
import { posix } from 'node:path'
import { CordonError } from '../errors.js'
import { ETC_SECRETS } from './profiles.js'
import type { ViewEntry } from './resolved.js'
import { hostPathIn, type LinkReader, onceEach, resolveViewPath, under } from './view-paths.js'

export type PathKind = 'file' | 'dir' | 'symlink' | 'missing'

/** What resolution asks of the host (injectable for pure tests). */
export interface HostPaths {
  stat(path: string): { kind: PathKind; uid: number; mode: number }
  readlink(path: string): string
}

export const realHostPaths: HostPaths = {
  stat(path) {
    try {
      const st = hostLstat(path)
      if (!st) return { kind: 'missing', uid: -1, mode: 0 }
      const kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file'
      return { kind, uid: st.uid, mode: st.mode }
    } catch {
      return { kind: 'missing', uid: -1, mode: 0 }
    }
  },
  readlink: (path) => hostReadlink(path),
}

type Bind = Extract<ViewEntry, { kind: 'bind' }>
type Mask = Extract<ViewEntry, { kind: 'mask' }>

export { under }

/** Where trusted symlinks live: directly in /, and below the system's own directories. */
const SYSTEM_DIRS = ['/usr', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/bin', '/sbin'] as const

const MAX_LINKS = 40 // the kernel's own limit (ELOOP)

/** Why a symlink could have been planted by a sandbox, or undefined when only root could have. */
function untrusted(link: string, host: HostPaths, writable: readonly string[]): string | undefined {
  const own = host.stat(link)
  if (own.uid !== 0) return `it is owned by uid ${own.uid}, not root`
  const inside = writable.find((w) => under(link, w))
  if (inside) return `it lies inside the writable bind ${inside}`
  for (let dir = posix.dirname(link); ; dir = posix.dirname(dir)) {
    const st = host.stat(dir)
    if (st.uid !== 0) return `${dir} is owned by uid ${st.uid}, not root`
    if (st.mode & 0o022) return `others can write ${dir}`
    if (dir === '/') break
  }
  // A root caller's sandbox writes its writable binds as root (idmapped mounts): owner and mode
  // cannot tell its links from the system's. Only the system's own directories are trusted,
  // where no project lives (a bind of them read-write is the caller's explicit choice).
  if (posix.dirname(link) !== '/' && !SYSTEM_DIRS.some((d) => under(link, d)))
    return `it lies outside the system directories (/, ${SYSTEM_DIRS.join(', ')}), where a root caller's sandbox writes as root, so its links look like the system's`
  return undefined
}

export const refuse = (message: string) =>
  new CordonError('invalid_policy', `Refused: ${message}`, {
    issues: [{ code: 'invalid_value', path: ['filesystem'], message }],
  })

/** The real path of a bind's source under the rule above; a same-path symlink (/bin -> usr/bin)
 * that passes it stays as named when there is a view: it reproduces it as a symlink (plan/view.ts),
 * resolved inside the view. Without one the bind is a Landlock rule, which would follow it on the
 * host. */
export function resolveSource(b: Bind, host: HostPaths, writable: readonly string[], view = true): string {
  const named = b.src
  let rest = named.split('/').filter(Boolean)
  let real = '/'
  const links: string[] = []
  while (rest.length) {
    const next = posix.join(real, rest.shift()!)
    const st = host.stat(next)
    if (st.kind === 'missing') return posix.join(next, ...rest)
    if (st.kind !== 'symlink') {
      real = next
      continue
    }
    const target = host.readlink(next)
    const what = `the bind source ${named} passes through the symlink ${next} -> ${target}`
    const to = posix.resolve(real, target)
    // Where the link leads, as the fix to write (a link further on is judged again then).
    const leads = posix.join(to, ...rest)
    if (!b.readOnly)
      throw refuse(
        `${what}; a writable bind writes wherever it points, and an earlier run could have planted it: ` +
          `name the real path instead (${leads}) if that is what you mean, or remove the link`,
      )
    // A read-only same-path link is the link in the view, as a `symlink:` entry (the runtimes'
    // bundles too): it grants nothing (plan/landlock.ts), and what it leads to is judged at its
    // own path. A writable one was refused above: its rule followed the link (`rw: P/cache`,
    // cache -> / planted by an earlier `--rw P` run, granted the whole view) and runc bound its
    // target (the host's root, writable).
    if (view && !rest.length && !links.length && next === named && b.dest === named) return named
    const why = untrusted(next, host, writable)
    if (why)
      throw refuse(
        `${what}, which a sandbox could have planted (${why}); name the real path (${leads}) if that is what you mean, or remove the link`,
      )
    if (links.push(next) > MAX_LINKS) throw refuse(`the bind source ${named}: too many levels of symlinks`)
    rest = [...to.split('/').filter(Boolean), ...rest]
    real = '/'
  }
  return real
}

/** A mask where its path really leads: through every symlink on its way (the last one too), in
 * the view, or on the host without one (view-paths.ts), with the host path it hides when a bind
 * shows it elsewhere. A mask hides what the program reaches by its path, so a link on the way
 * (`mask: /srv/x/link/secret`, link -> real) masks the target; without this the mount layer
 * followed the link while Landlock granted its target whole, and with no view nothing hid it. */
function settleMask(m: Mask, entries: readonly ViewEntry[], reader: LinkReader, view: boolean): Mask {
  const { path, links } = resolveViewPath(m.dest, reader, view ? entries : undefined, { except: m })
  const shown = view ? hostPathIn(entries, path, m) : undefined
  const named = m.named ?? (links.length ? m.dest : undefined)
  const hides = shown !== undefined && shown !== path ? shown : undefined
  if (path === m.dest && hides === m.host && named === m.named) return m
  return {
    kind: 'mask',
    dest: path,
    ...(hides !== undefined ? { host: hides } : {}),
    ...(named !== undefined ? { named } : {}),
  }
}

/** Every bind source resolved by the rule above; masks repeated wherever another bind shows the
 * host path they hide. Idempotent: compilePlan runs it again on views built after resolution
 * (learn's, audit's). */
export function resolveBindSources(
  entries: readonly ViewEntry[],
  host: HostPaths = realHostPaths,
  view = true,
): ViewEntry[] {
  // Writable sources first, without symlinks: a read-only link inside one is not trusted.
  const writable = entries.flatMap((e) =>
    e.kind === 'bind' && !e.readOnly ? [resolveSource(e, host, [], view)] : [],
  )
  const sources = entries.map((e): ViewEntry => {
    if (e.kind !== 'bind' || e.src === '/dev/null') return e
    const src = resolveSource(e, host, writable, view)
    return src === e.src ? e : { ...e, src }
  })
  const reader = onceEach<LinkReader>({ kind: (p) => host.stat(p).kind, readlink: (p) => host.readlink(p) })
  const resolved = sources.map((e) => (e.kind === 'mask' ? settleMask(e, sources, reader, view) : e))
  const masked = resolved.flatMap((m) => (m.kind === 'mask' ? [m.host ?? m.dest] : []))
  const secret = [...new Set([...masked, ...ETC_SECRETS])]
  const out: ViewEntry[] = []
  resolved.forEach((e, i) => {
    out.push(e)
    const named = entries[i]!
    if (e.kind !== 'bind' || named.kind !== 'bind') return
    const moved = e.src !== named.src
    const landed = moved ? secret.find((s) => under(e.src, s)) : undefined
    if (landed)
      throw refuse(
        `the bind source ${named.src} leads through a symlink to ${e.src}, a secret or masked path ` +
          `(${landed}); bind it by its own name if it is really meant to be shown`,
      )
    for (const m of masked) {
      if (m === e.src || !under(m, e.src)) continue
      const dest = posix.join(e.dest, posix.relative(e.src, m))
      if (
        !resolved.some((x) => x.kind === 'mask' && x.dest === dest) &&
        !out.some((x) => x.kind === 'mask' && x.dest === dest)
      )
        out.push({ kind: 'mask', dest, host: m })
    }
  })
  return out
}
