// linux.sysctl: each key is a sysctl of a namespace the container has of its own, written in
// that namespace once the launcher built the container, never the host's. Which namespace
// holds which key is runc's list (libcontainer/configs/validate); a key of none (kernel.*,
// vm.*, fs.* but fs.mqueue) would change the host, and is refused, as runc refuses it.
import { statSync } from 'node:fs'
import { childProcess } from './child-process.js'
import { invalid, type OciConfig, unsupported } from './spec.js'

export type SysctlNamespace = 'net' | 'ipc' | 'uts'

/** One sysctl to write: the namespace to enter (its /proc/PID/ns name), the file under
 * /proc/sys, and the value. */
export interface SysctlWrite {
  key: string
  value: string
  ns: SysctlNamespace
  path: string
}

const IPC_KEYS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
])

/** linux.namespaces' type for each namespace file name. */
const NS_TYPE: Readonly<Record<SysctlNamespace, string>> = { net: 'network', ipc: 'ipc', uts: 'uts' }

function namespaceOf(key: string): SysctlNamespace | undefined {
  if (IPC_KEYS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc'
  if (key.startsWith('net.')) return 'net'
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts'
  return undefined
}

/** sysctl(8)'s names: dots separate levels; with a slash in the key, slashes do and dots stay
 * (an interface named eth0.1). */
const pathOf = (key: string) => (key.includes('/') ? key : key.replaceAll('.', '/'))

/** The config's sysctls, checked: each in a namespace the container has (new, or joined by path:
 * a path to cordon-oci's own is refused when written), as a file beneath /proc/sys. */
export function resolveSysctls(config: OciConfig): SysctlWrite[] {
  const types = new Set((config.linux?.namespaces ?? []).map((n) => n.type))
  return Object.entries(config.linux?.sysctl ?? {}).map(([key, value]) => {
    const field = `linux.sysctl["${key}"]`
    if (typeof value !== 'string') throw invalid(field, 'a string', value)
    const ns = namespaceOf(key)
    if (!ns)
      throw unsupported(
        field,
        'it is not a sysctl of a namespace the container can have of its own (ipc: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*; network: net.*; uts: kernel.hostname, kernel.domainname), so it would change the host; set it on the host instead',
      )
    if (!types.has(NS_TYPE[ns]))
      throw unsupported(
        field,
        `the container has no "${NS_TYPE[ns]}" namespace, so it would change the host's; add one to linux.namespaces`,
      )
    const path = pathOf(key)
    if (
      !/^[A-Za-z0-9_][\w.:@+-]*(\/[\w.:@+-]+)*$/.test(path) ||
      path.split('/').some((s) => s === '..' || s === '.')
    )
      throw invalid(field, 'a sysctl name like net.ipv4.ip_forward', key)
    return { key, value, ns, path }
  })
}

/** The error for a write that failed (reason: the errno's name or the tool's message). */
export const sysctlFailed = (w: SysctlWrite, reason: string) =>
  invalid(`linux.sysctl["${w.key}"]`, "a sysctl of the container's namespaces", `${w.value} (${reason})`)

/** Why a write into a namespace cordon-oci shares is refused. */
export const ownNamespace = (ns: SysctlNamespace) =>
  `the container's ${NS_TYPE[ns]} namespace is cordon-oci's own (joined by path): the write would change the host's`

/** The namespace of pid is cordon-oci's own (a path joined to the host's). */
export function sharesRuntimeNamespace(pid: number, ns: SysctlNamespace): boolean {
  const theirs = statSync(`/proc/${pid}/ns/${ns}`)
  const own = statSync(`/proc/self/ns/${ns}`)
  return theirs.dev === own.dev && theirs.ino === own.ino
}

/** Writes the sysctls from inside pid's namespaces with nsenter and sysctl(8): the path of a
 * create without the C entry point's helper (launch-helper.ts writeSysctls), and of `run`. */
export function nsenterSysctls(pid: number, writes: readonly SysctlWrite[]): void {
  for (const w of writes) {
    if (sharesRuntimeNamespace(pid, w.ns)) throw sysctlFailed(w, ownNamespace(w.ns))
    const r = childProcess().spawnSync(
      'nsenter',
      ['-t', String(pid), `--${w.ns}`, '--', 'sysctl', '-q', '-w', `${w.key}=${w.value}`],
      { encoding: 'utf8' },
    )
    if (r.status !== 0) throw sysctlFailed(w, (r.stderr || r.error?.message || '').trim())
  }
}
