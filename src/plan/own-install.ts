// cordon's own installation (this package: its bin, the bundles, the launcher, the precompiled
// filters) is what runs as cordon next time, outside any sandbox. A project-local install
// (`npm install` in the project, README "Install") lies inside the project, and `--rw .` makes it
// writable to the program in the sandbox: it could replace the launcher or a bundle, or npm's
// node_modules/.bin/cordon link, and own the next `npx cordon run`. cordon cannot keep that
// whole: the link and the packages npm hoists beside it are the project's, and without a mount
// namespace a read-only bind inside a writable one has no layer at all. So the run says it, as
// a warning before anything runs, and the README says what a writable bind means (Security
// model: what the program writes is yours to trust).
import { posix } from 'node:path'
import { packageRoot } from '../host/launcher.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { hostPathIn, latestAtEachPlace, resolveViewPath, under } from '../policy/view-paths.js'
import { type HostFs, realHostFs } from './view.js'

/** policy with a warning for each writable bind of its view that holds cordon's own
 * installation (`root`, links resolved), where the view shows it. */
export function warnOwnInstall(
  policy: ResolvedPolicy,
  root: string = packageRoot,
  fs: HostFs = realHostFs,
): ResolvedPolicy {
  const real = resolveViewPath(root, fs, undefined).path
  if (fs.kind(real) !== 'dir') return policy
  const warnings: string[] = []
  for (const e of latestAtEachPlace(policy.filesystem)) {
    if (e.kind !== 'bind' || e.readOnly || !under(real, e.src)) continue
    const dest = posix.join(e.dest, posix.relative(e.src, real))
    if (hostPathIn(policy.filesystem, dest) !== real) continue // another entry replaces it there
    warnings.push(
      `the writable bind of ${e.src} holds cordon's own installation ${real}: the program can change ` +
        "the cordon you run next, outside any sandbox (its launcher, its bundles, npm's link in " +
        'node_modules/.bin); install cordon where no sandbox writes (npm install -g, or a directory ' +
        `outside the project), or bind ${e.src} read-only`,
    )
  }
  if (!warnings.length) return policy
  return { ...policy, warnings: [...(policy.warnings ?? []), ...warnings] }
}
