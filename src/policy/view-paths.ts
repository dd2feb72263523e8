// Where a path of the view leads, resolved as the sandbox (and the launcher building its view,
// native/view.c: RESOLVE_IN_ROOT) will resolve it: symlinks followed inside the view, an absolute
// target from the view's root, each component read from the host directory that the mount holding
// it shows. One home for that question: a mask hides what its path reaches (bind-sources.ts), and
// the view's entries are judged where their mount points will really be made (plan/view.ts).
import { posix } from 'node:path'
import { CordonError } from '../errors.js'
import type { ViewEntry } from './resolved.js'

/** What resolution asks of the host: a path's kind (lstat) and a symlink's target. */
export interface LinkReader {
  kind(path: string): 'file' | 'dir' | 'symlink' | 'missing'
  readlink(path: string): string
}

export const under = (path: string, dir: string): boolean =>
  path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`)

/** The entries that stand: of several at one place, the last (compileView leaves the others out,
 * noting each). */
export function latestAtEachPlace<E extends { dest: string }>(entries: readonly E[]): E[] {
  const last = new Map(entries.map((e, i) => [e.dest, i]))
  return entries.filter((e, i) => last.get(e.dest) === i)
}

const MAX_LINKS = 40 // the kernel's own limit (ELOOP)

/** A same-path bind of a host symlink (`ro: /bin`, /bin -> usr/bin): the view reproduces it as
 * the link (plan/view.ts), which grants nothing of its own (plan/landlock.ts). */
export const isLinkBind = (e: ViewEntry, host: Pick<LinkReader, 'kind'>): boolean =>
  e.kind === 'bind' && e.src === e.dest && host.kind(e.src) === 'symlink'

/** An entry as the policy wrote it, for messages: its destination before settling (`named`). */
export function statementOf(e: ViewEntry): string {
  const dest = e.named ?? e.dest
  if (e.kind !== 'bind') return `${e.kind}: ${dest}`
  return (
    `${e.readOnly ? 'ro' : 'rw'}: ${e.src}${e.src === dest ? '' : `:${dest}`}` +
    (e.idmap === false ? ' (the traced run’s view of the host)' : '')
  )
}

/** Entries that put a mount in the view; `symlink` and `mkdir` entries are names inside one. */
const MOUNTS = new Set<ViewEntry['kind']>(['bind', 'tmpfs', 'proc', 'dev', 'mask', 'file'])

/** The entry whose mount holds path in the view: the deepest destination at or above it, the
 * last of equal ones (plan/view.ts compileView keeps the last); none on the view's own root. */
export function mountAt(
  entries: readonly ViewEntry[],
  path: string,
  except?: ViewEntry,
): ViewEntry | undefined {
  let best: ViewEntry | undefined
  for (const e of entries)
    if (e !== except && MOUNTS.has(e.kind) && under(path, e.dest))
      if (!best || e.dest.length >= best.dest.length) best = e
  return best
}

/** The host path a view path shows: through the bind that holds it; undefined on a tmpfs, proc,
 * dev, mask, file or the view's own root, which show nothing of the host's. */
export function hostPathIn(
  entries: readonly ViewEntry[],
  path: string,
  except?: ViewEntry,
): string | undefined {
  const m = mountAt(entries, path, except)
  if (m?.kind !== 'bind') return undefined
  return posix.join(m.src, posix.relative(m.dest, path))
}

export interface Resolved {
  /** The path with no symlink left on its way. */
  path: string
  /** The symlinks followed, `link -> target`, for messages. */
  links: string[]
  /** The same symlinks: where each stood in the view, and its target. */
  hops: { at: string; target: string }[]
}

/**
 * Resolves path with every symlink on its way followed (its last component too, unless
 * `keepLast`), in the view when `entries` describe one, else on the host as it stands (no mount
 * namespace: the statements' paths are host paths). `except`: an entry left out of the view (the
 * one being placed: its own mount is not there yet). `..` in a target goes up from the link's
 * real directory, and stops at the root, as RESOLVE_IN_ROOT does.
 */
export function resolveViewPath(
  path: string,
  host: LinkReader,
  entries: readonly ViewEntry[] | undefined,
  { except, keepLast = false }: { except?: ViewEntry; keepLast?: boolean } = {},
): Resolved {
  const links: string[] = []
  const hops: { at: string; target: string }[] = []
  let rest = path.split('/').filter(Boolean)
  let done = '/'
  while (rest.length) {
    const name = rest.shift()!
    if (name === '.') continue
    if (name === '..') {
      done = posix.dirname(done)
      continue
    }
    const next = posix.join(done, name)
    const target = keepLast && !rest.length ? undefined : linkAt(next, host, entries, except)
    if (target === undefined) {
      done = next
      continue
    }
    hops.push({ at: next, target })
    if (links.push(`${next} -> ${target}`) > MAX_LINKS)
      throw new CordonError('invalid_policy', `Refused: ${path}: too many levels of symlinks`, {
        issues: [
          { code: 'invalid_value', path: ['filesystem'], message: `${path}: too many levels of symlinks` },
        ],
      })
    rest = [...target.split('/').filter(Boolean), ...rest]
    if (target.startsWith('/')) done = '/'
  }
  return { path: done, links, hops }
}

/** The target of the symlink at a resolved path, or undefined when it is no symlink. */
function linkAt(
  path: string,
  host: LinkReader,
  entries: readonly ViewEntry[] | undefined,
  except: ViewEntry | undefined,
): string | undefined {
  if (!entries) return host.kind(path) === 'symlink' ? host.readlink(path) : undefined
  // An entry placed exactly there decides: the last one, as compileView keeps it.
  const own = entries.findLast((e) => e !== except && e.dest === path && e.kind !== 'mkdir')
  if (own?.kind === 'symlink') return own.target
  const on = hostPathIn(entries, path, except)
  return on !== undefined && host.kind(on) === 'symlink' ? host.readlink(on) : undefined
}

/** The reader with each path asked once: one compile's questions about the host repeat (every
 * entry's way to the root), and each answer a plan depends on is recorded and asked again before
 * the plan is reused (host/reads.ts). */
export function onceEach<T extends LinkReader>(reader: T): T {
  const kinds = new Map<string, ReturnType<LinkReader['kind']>>()
  const links = new Map<string, string>()
  return {
    ...reader,
    kind: (p: string) => kinds.get(p) ?? kinds.set(p, reader.kind(p)).get(p)!,
    readlink: (p: string) => links.get(p) ?? links.set(p, reader.readlink(p)).get(p)!,
  }
}
