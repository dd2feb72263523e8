// Which directories on the way to the working directory the traced program cannot search. A
// root caller's sandbox is an unprivileged host range (plan/compile.ts), so a 0700 /root, or a
// 0750 /srv/team, stops it on the way to a project below: the launcher could not even make the
// working directory's mount point there, nor the program chdir to it.
import { statSync } from 'node:fs'
import { dirname } from 'node:path'
import { callerContext } from '../host/caller.js'
import { sandboxIdentity } from '../plan/compile.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { fsPath } from '../host/path-bytes.js'

/** The host ids the sandbox's file accesses are checked as. */
export interface HostCreds {
  uid: number
  gid: number
  /** Supplementary groups: kept in the sandbox (setgroups is denied, not emptied). */
  groups: readonly number[]
}

export function sandboxHostCreds(policy: ResolvedPolicy): HostCreds {
  const ctx = callerContext()
  const ids = sandboxIdentity(policy, ctx, policy.user.uid ?? 0, policy.user.gid ?? 0)
  const groups = process.getgroups?.() ?? []
  if (ids.remap && policy.namespaces.user)
    return { uid: ids.remap.uid.start + ids.uid, gid: ids.remap.gid.start + ids.gid, groups }
  if (!policy.namespaces.user) return { uid: ids.uid, gid: ids.gid, groups }
  return { uid: ctx.uid, gid: ctx.gid, groups }
}

/** Whether creds may search (x) the directory, by its owner, group and mode (as the kernel's
 * generic_permission, without ACLs: a directory an ACL opens is reported unsearchable, which
 * only costs the program that directory's other entries). */
export function searchable(dir: string, creds: HostCreds): boolean {
  let st
  try {
    st = statSync(fsPath(dir))
  } catch {
    return true // not there: nothing to traverse, the run says what is missing
  }
  if (creds.uid === 0) return true
  if (st.uid === creds.uid) return (st.mode & 0o100) !== 0
  if (st.gid === creds.gid || creds.groups.includes(st.gid)) return (st.mode & 0o010) !== 0
  return (st.mode & 0o001) !== 0
}

/** The outermost ancestor of path (path excluded, `/` excluded) that the test refuses. */
export function firstUnsearchable(path: string, canSearch: (dir: string) => boolean): string | undefined {
  const chain: string[] = []
  for (let d = dirname(path); d !== '/' && d !== '.'; d = dirname(d)) chain.unshift(d)
  return chain.find((d) => !canSearch(d))
}
