// pid 1 for a runtime backend's container (native/container-init.c). Without it the command is
// the container's first process, which the kernel protects from every signal it does not
// handle: its own SIGPIPE (`seq | head -1` exited 1, "Broken pipe", where natively it dies of
// the signal, 141) and a SIGTERM from runc, and no one reaps its orphans. Docker's `--init`
// answers the same.
//
// The init is used only where it cannot change what the policy says: in a pid namespace (with
// none, the command is not pid 1), at a place in the view that is the container's own (never
// a mount point made through a bind into a host directory), and when the container's seccomp
// profile allows each of its calls (a learned allowlist may refuse `wait4`; a kill default
// would end the container). Otherwise the command is pid 1, as before, and `cordon plan` /
// the run's status say nothing more: the policy is enforced the same either way.
import { accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import { nativePath } from '../host/launcher.js'
import type { ViewEntry } from '../policy/resolve.js'
import { type LinkReader, latestAtEachPlace, resolveViewPath } from '../policy/view-paths.js'
import { realHostFs } from '../plan/view.js'
import { archByName } from '../seccomp/arch.js'
import { RET } from '../seccomp/bpf.js'
import { importOci, type OciProfile } from '../seccomp/oci.js'
import { actionOf, answerFor } from '../seccomp/reference.js'
import { resolveSeccomp } from '../seccomp/resolve.js'

/** What of a bundle's config the init changes or reads (oci-bundle.ts OciConfig). */
interface InitConfig {
  process: { args: string[] }
  mounts: { destination: string; type: string; source: string; options?: string[] }[]
  linux: { namespaces: { type: string }[]; seccomp?: OciProfile }
}

/** The runtime whose view rules apply: runsc's gofer makes mount points where runc would not. */
type Runtime = 'runc' | 'gvisor'

/** The init's name in the view, in the place chosen by initPlace. */
export const INIT_NAME = '.cordon-init'

const SIG_BLOCK = 0n
const SIG_SETMASK = 2n
const SIGCHLD = 17n
const WNOHANG_WALL = 0x40000001n
const SIGSET_SIZE = 8n
/** Stands for a pointer argument: no filter can judge one. */
const POINTER = 0x7ffc00001000n
/** The signals the init forwards (every one but SIGKILL, SIGSTOP, the faults and SIGCHLD, as
 * in container-init.c), each a `kill` the filter must allow. */
const FORWARDED = Array.from({ length: 64 }, (_, i) => BigInt(i + 1)).filter(
  (s) => ![9n, 19n, 4n, 5n, 6n, 7n, 8n, 11n, 31n, 21n, 22n, 17n].includes(s),
)
/** The command's pid as the init may see it: the namespace's first free one after the
 * runtime's own processes and threads (6 or 7 under runc, 2 elsewhere), or any other up to the
 * kernel's largest. A filter that judges kill's pid at all is asked at each of 2-64 and a few
 * more (helper-120: `6 < pid < 1000` refused pid 7); one that does not, once. */
const CHILD_PIDS = [...Array.from({ length: 63 }, (_, i) => BigInt(i + 2)), 1000n, 32768n, 4194303n]

/** Every call cordon-init makes, with the arguments it makes it with. execve's arguments are
 * pointers. */
export const INIT_CALLS: readonly { name: string; args: readonly bigint[] }[] = [
  { name: 'rt_sigprocmask', args: [SIG_BLOCK, POINTER, POINTER, SIGSET_SIZE] },
  { name: 'rt_sigprocmask', args: [SIG_SETMASK, POINTER, 0n, SIGSET_SIZE] },
  { name: 'clone', args: [SIGCHLD, 0n, 0n, 0n, 0n] },
  { name: 'setsid', args: [] },
  { name: 'execve', args: [POINTER, POINTER, POINTER] },
  { name: 'rt_sigtimedwait', args: [POINTER, POINTER, 0n, SIGSET_SIZE] },
  { name: 'wait4', args: [0xffffffffffffffffn, POINTER, WNOHANG_WALL, 0n] },
  ...FORWARDED.map((sig) => ({ name: 'kill', args: [2n, sig] })),
  { name: 'write', args: [2n, POINTER, 64n] },
  { name: 'exit_group', args: [0n] },
]

/** The calls of INIT_CALLS the profile does not allow (nothing when it allows them all). */
export function refusedInitCalls(profile: OciProfile | undefined, nodeArch = process.arch): string[] {
  if (!profile) return []
  const arch = archByName(nodeArch)
  if (!arch) return ['(no syscall table for this architecture)']
  const spec = resolveSeccomp([importOci(profile, { arch: nodeArch }).layer])
  const refused = new Set<string>()
  const killByPid = spec.rules.some((r) => r.syscalls.includes('kill') && r.args.some((a) => a.index === 0))
  const calls = killByPid
    ? [
        ...INIT_CALLS,
        ...CHILD_PIDS.flatMap((pid) => FORWARDED.map((sig) => ({ name: 'kill', args: [pid, sig] }))),
      ]
    : INIT_CALLS
  for (const call of calls) {
    const kind = actionOf(answerFor(spec, call.name, call.args, nodeArch, nodeArch) ?? RET.KILL_PROCESS)
    if (kind !== RET.ALLOW && kind !== RET.LOG) refused.add(call.name)
  }
  return [...refused]
}

const within = (path: string, base: string) =>
  path === base || path.startsWith(base === '/' ? '/' : `${base}/`)

/** Where the init can be bound in the view without the runtime making a host file for it: the
 * bundle's own root when no bind holds `/`; else, for runc, a tmpfs or /dev of the container's
 * own (gVisor's gofer makes even those mount points on the host, through the binds). Never a
 * name an entry uses or goes beneath. */
export function initPlace(
  view: readonly ViewEntry[],
  backend: Runtime,
  host: LinkReader = realHostFs,
): string | undefined {
  try {
    // Each place as the runtime finds it when it mounts there: through the view's symlinks (it
    // follows them), less the entry itself. An entry spelled through a link that lands on the
    // init's name collided with its bind, and the container did not start (helper-120).
    const at = new Map(view.map((e) => [e, resolveViewPath(e.dest, host, view, { except: e }).path]))
    const taken = (dest: string) => [...at].some(([e, place]) => within(e.dest, dest) || within(place, dest))
    if (!view.some((e) => e.kind === 'bind' && e.dest === '/')) {
      const dest = join('/', INIT_NAME)
      return taken(dest) ? undefined : dest
    }
    if (backend === 'gvisor') return undefined
    // runc orders mounts by their spelled depth: a bind spelled deeper, through a link, landed
    // on a tmpfs after it, and the init's mount point was made in the bind's host directory
    // (helper-119). So only a tmpfs reached without a link, with no bind other than / at it or
    // above it (wherever that bind is spelled), and not in /proc or /sys, where runc mounts
    // nothing.
    const binds = view.filter((e) => e.kind === 'bind' && e.dest !== '/').map((e) => at.get(e)!)
    const kernel = ['/proc', '/sys', ...view.filter((e) => e.kind === 'proc').map((e) => e.dest)]
    for (const e of latestAtEachPlace(view)) {
      if (e.kind !== 'tmpfs' && e.kind !== 'dev') continue
      const dest = join(e.dest, INIT_NAME)
      if (at.get(e) !== e.dest || kernel.some((k) => within(e.dest, k))) continue
      if (binds.some((b) => within(e.dest, b)) || taken(dest)) continue
      return dest
    }
  } catch {} // a view that cannot be resolved (a loop): no place is known to be its own
  return undefined
}

/** The built init, or undefined where it was not built (an architecture it does not know). */
function initBinary(): string | undefined {
  const path = nativePath('cordon-init')
  try {
    accessSync(path, constants.X_OK)
    return path
  } catch {
    return undefined
  }
}

/** Puts the init in front of the command when it can be (see the top of this file); changes
 * config in place. `view`: the policy's, with the mounts the runtime adds (runc's /dev).
 * `source`: where the bind takes the init from (a bundle's own copy), else the built one.
 * Returns the built init's path when it was put in, or undefined. */
export function withInit(
  config: InitConfig,
  view: readonly ViewEntry[],
  backend: Runtime,
  source?: string,
): string | undefined {
  // gVisor's kernel gives the container a pid namespace of its own whatever the config says.
  if (backend === 'runc' && !config.linux.namespaces.some((n) => n.type === 'pid')) return undefined
  const binary = initBinary()
  const dest = binary && initPlace(view, backend)
  if (!binary || !dest || refusedInitCalls(config.linux.seccomp).length) return undefined
  config.mounts.push({
    destination: dest,
    type: 'bind',
    source: source ?? binary,
    options: ['bind', 'ro', 'nosuid', 'nodev'],
  })
  config.process.args = [dest, ...config.process.args]
  return binary
}
