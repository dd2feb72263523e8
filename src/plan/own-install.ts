// cordon's own installation (this package: its bin, the bundles, the launcher, the precompiled
// filters) is what runs as cordon next time, outside any sandbox. A project-local install
// (`npm install` in the project, README "Install") lies inside the project, and `--rw .` makes it
// writable to the program in the sandbox: it could replace the launcher or a bundle, or npm's
// node_modules/.bin/cordon link, and own the next `npx cordon run`. cordon cannot keep that
// whole: the link and the packages npm hoists beside it are the project's, and without a mount
// namespace a read-only bind inside a writable one has no layer at all. So the run says it, as
// a warning before anything runs, and the README says what a writable bind means (Security
// model: what the program writes is yours to trust).
import { statSync } from 'node:fs'
import { posix } from 'node:path'
import { fsPath } from '../host/path-bytes.js'
import { packageRoot } from '../host/launcher.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { hostPathIn, latestAtEachPlace, resolveViewPath, under } from '../policy/view-paths.js'
import { type HostFs, realHostFs } from './view.js'

/** The command's own path when cordon's bin was started through another (npm's
 * node_modules/.bin/cordon link; `npx cordon`), its directory's links resolved: whoever can write
 * there decides what `cordon` runs next. Undefined for cordon started by its own path, and for a
 * program of the caller's that uses the library. */
function invokedThrough(invoked: string | undefined, real: string, fs: HostFs): string | undefined {
  if (!invoked || !posix.isAbsolute(invoked)) return undefined
  const bins = ['cordon.cjs', 'cordon.js'].map((b) => posix.join(real, 'bin', b))
  if (!bins.includes(resolveViewPath(invoked, fs, undefined).path)) return undefined
  const path = posix.join(
    resolveViewPath(posix.dirname(invoked), fs, undefined).path,
    posix.basename(invoked),
  )
  return bins.includes(path) ? undefined : path
}

/** policy with a warning for each writable bind of its view that holds cordon's own
 * installation (`root`, links resolved), where the view shows it, or the path the command was
 * started by (`invoked`, process.argv[1]: a link to cordon's bin). */
export function warnOwnInstall(
  policy: ResolvedPolicy,
  root: string = packageRoot,
  fs: HostFs = realHostFs,
  invoked: string | undefined = process.argv[1],
): ResolvedPolicy {
  const real = resolveViewPath(root, fs, undefined).path
  if (fs.kind(real) !== 'dir') return policy
  const link = invokedThrough(invoked, real, fs)
  const warnings: string[] = []
  for (const e of latestAtEachPlace(policy.filesystem)) {
    if (e.kind !== 'bind' || e.readOnly) continue
    const held = [real, ...(link ? [link] : [])].filter((p) => {
      if (!under(p, e.src)) return false
      // Another entry may replace it there.
      return hostPathIn(policy.filesystem, posix.join(e.dest, posix.relative(e.src, p))) === p
    })
    // A bind of a directory within the installation (its build/, the launcher's) writes it too.
    const within = !held.includes(real) && under(e.src, real)
    if (!held.length && !within) continue
    const what = [
      ...held.map((p) =>
        p === real ? `holds cordon's own installation ${p}` : `holds ${p}, the link you ran cordon by`,
      ),
      ...(within ? [`lies in cordon's own installation ${real}`] : []),
    ].join(' and ')
    warnings.push(
      `the writable bind of ${e.src} ${what}: the program can change the cordon you run next, outside ` +
        "any sandbox (its launcher, its bundles, npm's link in node_modules/.bin); run a cordon installed " +
        'where no sandbox writes (`npm link` in a cordon clone, or a clone outside the project), or make ' +
        'less writable (`--rw ./out` rather than `--rw .`)',
    )
  }
  if (!warnings.length) return policy
  return { ...policy, warnings: [...(policy.warnings ?? []), ...warnings] }
}

/**
 * Learn and audit show the host's files writable by the sandbox's own ids (learn.ts traceView):
 * a plain user's cordon installation of their own or their group's, or one anyone may write, is
 * among them, and nothing said so (helper-135). Root's sandboxes run as an unprivileged id
 * range, which writes only what anyone may; with host root's powers (`hostRoot`) the host's
 * files are read-only there. The warning for such a view, or undefined. Its directory alone is
 * looked at: the files in it are as their owner made them.
 */
export function tracedOwnInstall(
  hostRoot = false,
  root: string = packageRoot,
  uid: number = process.getuid?.() ?? 0,
  groups: readonly number[] = process.getgroups?.() ?? [],
): string | undefined {
  if (hostRoot) return undefined
  const st = statSync(fsPath(root), { throwIfNoEntry: false })
  const writable =
    st !== undefined &&
    ((st.mode & 0o002) !== 0 ||
      (uid !== 0 && (st.uid === uid || ((st.mode & 0o020) !== 0 && groups.includes(st.gid)))))
  if (!writable) return undefined
  return (
    `learn and audit show the host's files writable by your uid, cordon's own installation ${root} among them: ` +
    'the program can change the cordon you run next, outside any sandbox; learn on a trusted input, or run a ' +
    "cordon installed where you cannot write (another user's clone, root's `npm link`)"
  )
}
