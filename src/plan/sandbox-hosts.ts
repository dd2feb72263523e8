// The sandbox's own name in its /etc/hosts. A policy's `hostname` (the default profile's is
// `cordon`) is the uts namespace's, which the host's /etc/hosts does not name: the sandbox could
// not resolve its own name (`getent hosts $(hostname)` failed, as did Java's
// InetAddress.getLocalHost(), Python's socket.gethostbyname(socket.gethostname()) and `hostname
// -f`), where Docker's containers can. Where the view shows the host's /etc/hosts through a
// read-only bind and no entry of the policy places /etc/hosts itself, it becomes a read-only file
// of the host's text with the name added as 127.0.1.1 (Debian's line for the machine's own name),
// unless the host's already names it. The copy is made by the caller, who may be root, for a
// sandbox that may not be: only a file any process could read through that bind is copied (a
// regular file others may read, in directories others may search, no link on the way, read by
// its descriptor: host/reads.ts hostReadPublicText), else /etc/hosts stays the host's. A
// writable bind keeps the host's file writable. Its reads are host reads: a filed plan is reused
// only while they answer the same.
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { hostPathIn, mountAt } from '../policy/view-paths.js'
import type { HostFs } from './view.js'

const HOSTS = '/etc/hosts'
/** Larger, it is left as it is (a hosts file used as a block list runs to megabytes). */
const MAX_HOSTS_BYTES = 1 << 20

/** The entry that gives the sandbox's /etc/hosts its name, or undefined where none is needed. */
export function sandboxHosts(
  policy: Pick<ResolvedPolicy, 'hostname' | 'namespaces' | 'filesystem'>,
  fs: HostFs,
  notes: string[],
): ViewEntry | undefined {
  const name = policy.hostname
  if (name === undefined || !policy.namespaces.uts || !policy.namespaces.mount) return undefined
  if (policy.filesystem.some((e) => e.dest === HOSTS)) return undefined
  const bind = mountAt(policy.filesystem, HOSTS)
  const source = hostPathIn(policy.filesystem, HOSTS)
  if (bind?.kind !== 'bind' || !bind.readOnly || source === undefined) return undefined
  const text = fs.publicText?.(source, bind.src, MAX_HOSTS_BYTES)
  if (text === undefined || names(text, name)) return undefined
  notes.push(`${HOSTS}: the host's, with this sandbox's hostname ${name} as 127.0.1.1`)
  const line = `127.0.1.1\t${name}\n`
  return {
    kind: 'file',
    dest: HOSTS,
    content: text === '' || text.endsWith('\n') ? text + line : `${text}\n${line}`,
    mode: 0o644,
  }
}

/** Whether a hosts file's text gives an address for name (a name is matched as the resolver
 * does: case-insensitively, any field after the address, up to a comment). */
function names(text: string, name: string): boolean {
  const wanted = name.toLowerCase()
  return text.split('\n').some((line) => {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/)
    return fields.length > 1 && fields.slice(1).some((f) => f.toLowerCase() === wanted)
  })
}
