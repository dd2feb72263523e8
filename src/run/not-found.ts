// Why a command the sandbox could not find (exec: ENOENT) is missing, judged on the host: the
// launcher only knows the name was not there. The usual causes, each with its fix: a policy that
// shows no files at all (no `extends`), and a program reached through a link that leaves the view
// (Debian's /usr/bin/cc → /etc/alternatives/cc, which `--profile minimal` does not show).
import { accessSync, constants, readlinkSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import type { ResolvedPolicy } from '../policy/resolved.js'
import { visibleInView } from '../plan/view.js'

/** The default PATH the launcher's exec searches when the policy sets none (execvp's). */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'
const MAX_LINKS = 16

/** A sentence on why `command` was not found in the sandbox of `policy`, started from `cwd`, and
 * what to do; undefined when nothing on the host explains it. */
export function notFoundHint(policy: ResolvedPolicy, command: string, cwd: string): string | undefined {
  if (policy.namespaces.mount && policy.filesystem.length === 0)
    return 'the policy shows the sandbox no files at all (it extends no profile): begin it with `extends: [default]` (or `[minimal]`)'
  if (!policy.namespaces.mount) return undefined
  const found = onHost(command, policy.env.set.PATH ?? DEFAULT_PATH, cwd)
  if (!found) return undefined
  // Each hop of the link chain must be in the view for the exec to reach the program.
  const hops = [found]
  try {
    for (let i = 0; i < MAX_LINKS; i++) {
      const at = hops[hops.length - 1]!
      const target = readlinkSync(at)
      hops.push(isAbsolute(target) ? target : resolve(dirname(at), target))
    }
  } catch {} // EINVAL: not a link, the chain ends here
  const missing = hops.find((p) => !visibleInView(policy.filesystem, p))
  if (!missing) return undefined
  const chain = hops.length > 1 ? `${hops.join(' → ')}` : found
  return `${command} is ${chain} on this host, and ${missing} is not in the sandbox's view: add \`--ro ${dirname(missing)}\` (a policy: \`- ro: ${dirname(missing)}\`)`
}

/** The host file `command` names, searched on `path` as execvp does when it has no slash. */
function onHost(command: string, path: string, cwd: string): string | undefined {
  const candidates = command.includes('/')
    ? [resolve(cwd, command)]
    : path.split(':').map((dir) => resolve(cwd, dir || '.', command))
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}
