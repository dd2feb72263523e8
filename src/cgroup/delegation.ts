// A cgroup v2 subtree delegated to an unprivileged caller (systemd's `Delegate=yes`, e.g.
// user@UID.service, or a directory an administrator chowned): cordon's groups for that caller
// live under its topmost owned ancestor, so moving the sandbox there stays inside what the
// caller may write (the kernel checks cgroup.procs of the common ancestor).
import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { readWords } from './fs.js'

/** The caller's v2 cgroup path (`0::/a/b` in /proc/self/cgroup), or undefined. */
function ownCgroup(): string | undefined {
  try {
    return /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1]
  } catch {
    return undefined
  }
}

function ownedBy(dir: string, uid: number): boolean {
  try {
    if (statSync(dir).uid !== uid) return false
    accessSync(`${dir}/cgroup.procs`, constants.W_OK)
    accessSync(`${dir}/cgroup.subtree_control`, constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** The topmost directory above (or at) the caller's cgroup that it owns, or undefined. */
export function delegatedRoot(v2Mount: string, uid: number, own = ownCgroup()): string | undefined {
  if (own === undefined) return undefined
  let dir = `${v2Mount}${own === '/' ? '' : own}`
  let root: string | undefined
  while (dir.length > v2Mount.length && ownedBy(dir, uid)) {
    root = dir
    dir = dirname(dir)
  }
  return root
}

/** Controllers a delegated subtree's children can use: those its cgroup.subtree_control
 * enables (systemd enables the delegated ones; the subtree itself usually holds processes, so
 * cordon cannot enable more there: the kernel's no-internal-processes rule). */
export function delegatedControllers(root: string): string[] {
  return readWords(`${root}/cgroup.subtree_control`)
}
