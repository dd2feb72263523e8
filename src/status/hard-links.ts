// Hard links between a writable and a read-only bind: one file under two names. The mount flag
// and Landlock both judge the path a write walks, so a write through the writable name changes
// what the read-only bind shows, and no layer of the sandbox can refuse it (link(2) across
// mounts fails with EXDEV, so the sandbox cannot make such a link; the host, or an earlier run
// with a wider view, can: pnpm stores, `git clone` of a local repository, `cp -al` backups).
// A read-only statement is `full` only when no such file is found; a tree too large to walk
// within the budget is reported as not checked, never as clean.
import { lstatSync, readdirSync, statSync } from 'node:fs'
import { join, posix } from 'node:path'
import { fsPath, pathFromBytes } from '../host/path-bytes.js'
import type { ViewEntry } from '../policy/resolve.js'

type Bind = Extract<ViewEntry, { kind: 'bind' }>

/** Entries walked in the writable trees per run (a project with its dependencies: ~0.1 s of
 * lstat on a quiet host). A read-only tree is walked only when a writable one holds a file
 * linked from outside it, and then at most a tenth of this: /usr is assumed, not walked. */
export const HARD_LINK_BUDGET = 20_000

interface Seen {
  /** Names found in the walked trees, and the first. */
  count: number
  nlink: bigint
  path: string
}

const key = (dev: bigint, ino: bigint) => `${dev}:${ino}`

/** Walks root (not crossing into other filesystems, not into `skip` directories), calling
 * each for every regular file with other hard links; false when the budget ran out. */
function walk(
  root: string,
  skip: ReadonlySet<string>,
  budget: { left: number },
  each: (k: string, nlink: bigint, path: string) => void,
): boolean {
  let rootDev: bigint
  try {
    rootDev = statSync(fsPath(root), { bigint: true }).dev
  } catch {
    return true
  }
  const stack = [root]
  while (stack.length) {
    const path = stack.pop()!
    if (budget.left-- <= 0) return false
    let st
    try {
      // Paths as bytes (path-bytes.ts): a name that is not UTF-8, as a string, is a sibling.
      st =
        path === root ? statSync(fsPath(path), { bigint: true }) : lstatSync(fsPath(path), { bigint: true })
    } catch {
      continue // gone while walking, or not ours to read: the sandbox cannot reach it either
    }
    if (st.dev !== rootDev) continue
    if (st.isDirectory()) {
      if (path !== root && skip.has(key(st.dev, st.ino))) continue
      let names: string[]
      try {
        names = readdirSync(fsPath(path), { encoding: 'buffer' }).map((n) => pathFromBytes(n))
      } catch {
        continue
      }
      for (const n of names) stack.push(join(path, n))
    } else if (st.isFile() && st.nlink > 1n) each(key(st.dev, st.ino), st.nlink, path)
  }
  return true
}

/**
 * For each read-only bind, why a file it shows may be written through a writable bind (a hard
 * link of it there), or why that was not checked; absent when neither. Only binds on the same
 * filesystem can share a file, and only files with more than one link can be shared, so the
 * common case (no such file in the writable trees) costs one walk of the writable trees.
 */
export function hardLinkGaps(binds: readonly Bind[], limit = HARD_LINK_BUDGET): Map<Bind, string> {
  const gaps = new Map<Bind, string>()
  const stat = (b: Bind) => {
    try {
      return statSync(fsPath(b.src), { bigint: true })
    } catch {
      return undefined
    }
  }
  const ro = binds.filter((b) => b.readOnly).map((b) => ({ b, st: stat(b) }))
  const rw = binds.filter((b) => !b.readOnly).map((b) => ({ b, st: stat(b) }))
  const sharing = (dev: bigint) => ro.filter((r) => r.st?.dev === dev)
  if (!rw.some((w) => w.st && sharing(w.st.dev).length)) return gaps

  // What the writable trees hold: a read-only bind inside one shows its part read-only, so
  // its directory is not walked as writable.
  const skip = new Set(ro.flatMap((r) => (r.st?.isDirectory() ? [key(r.st.dev, r.st.ino)] : [])))
  const budget = { left: limit }
  const seen = new Map<string, Seen>()
  const unchecked = new Map<bigint, string>()
  for (const w of rw) {
    if (!w.st || !sharing(w.st.dev).length) continue
    const done = walk(w.b.src, skip, budget, (k, nlink, path) => {
      const s = seen.get(k)
      if (s) s.count++
      else seen.set(k, { count: 1, nlink, path: w.b.dest + path.slice(w.b.src.length) })
    })
    if (!done && !unchecked.has(w.st.dev))
      unchecked.set(
        w.st.dev,
        `more than ${limit} entries under bind ${w.b.dest}: hard links into it not checked`,
      )
  }
  // Files with a name outside the writable trees: one may be under a read-only bind.
  const outside = [...seen].filter(([, s]) => BigInt(s.count) < s.nlink)

  for (const { b, st } of ro) {
    if (!st || !rw.some((w) => w.st?.dev === st.dev)) continue
    const found = (k: string) => {
      const s = seen.get(k)
      return s && `${s.path} is a hard link of a file here, writable through it`
    }
    if (st.isFile()) {
      const why = st.nlink > 1n ? found(key(st.dev, st.ino)) : undefined
      const gap = why ?? (st.nlink > 1n ? unchecked.get(st.dev) : undefined)
      if (gap) gaps.set(b, gap)
      continue
    }
    const here = outside.filter(([k]) => k.startsWith(`${st.dev}:`))
    if (here.length) {
      // Which of them this bind shows: walked when small enough, else assumed.
      const mine = new Set(here.map(([k]) => k))
      let hit: string | undefined
      const done = walk(b.src, new Set(), { left: Math.ceil(limit / 10) }, (k) => {
        if (!hit && mine.has(k)) hit = k
      })
      if (hit) gaps.set(b, found(hit)!)
      else if (!done)
        gaps.set(
          b,
          `${here.length} file(s) under writable binds have hard links elsewhere (e.g. ${here[0]![1].path}), and this tree is too large to check for them`,
        )
    }
    const not = unchecked.get(st.dev)
    if (not && !gaps.has(b)) gaps.set(b, not)
  }
  return gaps
}

const within = (path: string, dir: string) => path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`)

/**
 * For each read-only bind whose source a writable bind shows elsewhere (`rw: /data` beside
 * `ro: /data/ref:/ref`, or one directory bound twice), why it is writable under that other
 * name; absent when another entry covers that place (the read-only carve-out at the same
 * place, a mask, a tmpfs). Like a hard link, one file under two names: the mount flag and
 * Landlock judge the path walked, so a write through the writable name changes what the
 * read-only bind shows, and no layer refuses it.
 */
export function writableAliases(entries: readonly ViewEntry[]): Map<Bind, string> {
  const gaps = new Map<Bind, string>()
  const binds = entries.filter((e): e is Bind => e.kind === 'bind')
  for (const ro of binds.filter((b) => b.readOnly))
    for (const rw of binds.filter((b) => !b.readOnly)) {
      if (!within(ro.src, rw.src)) continue
      const place = posix.join(rw.dest, ro.src.slice(rw.src.length))
      // An entry at the place or between it and the writable bind's root decides what is there.
      const covered = entries.some((e) => {
        if (e === rw || !within(place, e.dest) || !within(e.dest, rw.dest) || e.dest === rw.dest) return false
        if (e.kind === 'mask' || e.kind === 'tmpfs') return true
        return e.kind === 'bind' && e.readOnly && posix.join(e.src, place.slice(e.dest.length)) === ro.src
      })
      if (!covered && place !== ro.dest) {
        gaps.set(ro, `${place} (bind ${rw.dest}) shows the same files writable`)
        break
      }
    }
  return gaps
}
