// `--backend runc|gvisor`: the same policy run by an OCI runtime instead of cordon's launcher.
// The policy becomes an OCI bundle (export/oci-bundle.ts) in a private temporary directory,
// the runtime runs it in the foreground (it passes our stdio straight to the command and
// forwards signals to it), and the bundle and the container's state are removed afterwards;
// what a cordon killed with SIGKILL left, the next runtime run sweeps (orphans.ts).
import { type ChildProcess, type StdioOptions, spawn as spawnChild, spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  fstatSync,
  lchownSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
} from 'node:fs'
import { constants } from 'node:os'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { hostIdRanges } from '../host/id-range.js'
import { cgroupAccess, cgroupMounts } from '../cgroup/select.js'
import { CgroupV1 } from '../cgroup/v1.js'
import { CgroupV2 } from '../cgroup/v2.js'
import { identify } from '../host/signal.js'
import { launcherPath } from '../host/launcher.js'
import {
  handles,
  containerInit,
  killRuntimeTree,
  removeContainerGroups,
  RUNTIME_CALL_MS,
  STOP_GRACE_MS,
  TERMINATING,
} from './runtime-stop.js'
import { CordonError } from '../errors.js'
import { ownDevNeeded, writeExport } from '../export/model.js'
import { removeTree } from '../run/remove-tree.js'
import { ociConfig, type OciConfig } from '../export/oci-bundle.js'
import { callerContext } from '../host/caller.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { type OciProfile, stringifyOci } from '../seccomp/oci.js'
import { withInit } from '../export/container-init.js'
import { forGvisor } from '../export/gvisor.js'
import { containerId, makeBundleDir, type RuntimeProgram, runtimeRoot, sweepOrphans } from './orphans.js'
import type { ExitReason } from '../run/spawn.js'
import { compileView, realHostFs } from '../plan/view.js'
import { sandboxHosts } from '../plan/sandbox-hosts.js'
import { hideStateDir } from '../plan/state-mask.js'
import { callerUid, ensureStateDirs } from '../run/state-dir.js'
import { hostPathIn, mountAt, resolveViewPath } from '../policy/view-paths.js'
import { fsPath, pathFromBytes } from '../host/path-bytes.js'

export const BACKENDS = ['native', 'runc', 'gvisor'] as const
export type Backend = (typeof BACKENDS)[number]
export type RuntimeBackend = Exclude<Backend, 'native'>

/** The runtime's program and what Debian calls its package (for the error saying how to get it). */
export const RUNTIMES: Record<RuntimeBackend, { program: RuntimeProgram; package: string; title: string }> = {
  runc: { program: 'runc', package: 'runc', title: 'runc' },
  gvisor: { program: 'runsc', package: 'runsc', title: 'gVisor (runsc)' },
}

/** This process's real-time policy (SCHED_FIFO, SCHED_RR; stat's field 41), or undefined: the
 * native launcher gives its children the default one (launcher.c no_realtime_children), a
 * runtime started from Node would not (helper-149). */
function realtimePolicy(): string | undefined {
  let stat: string
  try {
    stat = readFileSync('/proc/self/stat', 'utf8')
  } catch {
    return undefined
  }
  const policy = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38])
  return policy === 1 ? 'SCHED_FIFO' : policy === 2 ? 'SCHED_RR' : undefined
}

export function parseBackend(value: string | undefined): Backend {
  const backend = (value ?? 'native') as Backend
  if (!BACKENDS.includes(backend))
    throw new CordonError(
      'invalid_usage',
      `--backend must be one of ${BACKENDS.join(', ')}, got \`${value}\``,
    )
  return backend
}

/** The runtime's path on this host, or undefined. */
export function runtimePath(backend: RuntimeBackend): string | undefined {
  const { program } = RUNTIMES[backend]
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat('/usr/sbin', '/sbin'))
    if (dir && existsSync(join(dir, program))) return join(dir, program)
  return undefined
}

/** The runtimes installed here, for the sweep of every backend's orphans. */
function installedRuntimes(): { program: RuntimeProgram; path: string }[] {
  return (Object.keys(RUNTIMES) as RuntimeBackend[]).flatMap((b) => {
    const path = runtimePath(b)
    return path ? [{ program: RUNTIMES[b].program, path }] : []
  })
}

/** Whether this caller can use the backend here, and if not, what to do instead. */
export function backendAvailable(
  backend: Backend,
  uid = process.getuid?.() ?? 0,
): { ok: boolean; why: string } {
  if (backend === 'native') return { ok: true, why: '' }
  const rt = RUNTIMES[backend]
  if (!runtimePath(backend))
    return { ok: false, why: `${rt.program} is not installed: apt-get install ${rt.package}` }
  // runsc's rootless mode cannot start its gofer without privileges on this kernel; runc's can.
  if (backend === 'gvisor' && uid !== 0)
    return { ok: false, why: 'gVisor (runsc) needs root here; unprivileged, use --backend native or runc' }
  return { ok: true, why: '' }
}

/** Whether an everyday command works on the backend here: `ls /` and a pipe, under the given
 * policy. A runtime can be installed and still broken on this kernel (runsc 2022 answers EINVAL
 * to `ls /` on Linux 6.18), and advice must not recommend it then. */
export async function backendWorks(
  backend: RuntimeBackend,
  policy: ResolvedPolicy,
): Promise<{ ok: boolean; why: string; ran: boolean }> {
  const probe = ['/bin/sh', '-c', 'ls / >/dev/null && echo ok | cat']
  try {
    // A runtime that hangs on it must not hang `check`, `advise` or a failed run's question.
    const r = await runOnRuntime(policy, backend, probe, { timeoutMs: 20_000 })
    if (r.code === 0 && r.stdout === 'ok\n') return { ok: true, why: '', ran: true }
    if (r.timedOut)
      return {
        ok: false,
        why: `${RUNTIMES[backend].program} is installed, but \`ls /\` did not end under it here within 20 s`,
        ran: false,
      }
    const said = (r.error ?? r.stderr).trim().split('\n')[0]
    return {
      ok: false,
      ran: r.error === undefined,
      why: `${RUNTIMES[backend].program} is installed, but \`ls /\` fails under it here${said ? ` (${said})` : ''}`,
    }
  } catch (e) {
    return {
      ok: false,
      why: `${RUNTIMES[backend].program} does not start here: ${(e as Error).message}`,
      ran: false,
    }
  }
}

/** The runtime's global flags: where it keeps state (orphans.ts runtimeRoot), and for runsc
 * its network and seccomp. */
function globalFlags(backend: RuntimeBackend, policy: ResolvedPolicy, uid: number): string[] {
  const flags = runtimeRoot(RUNTIMES[backend].program, uid).flags
  if (backend === 'gvisor') {
    // runsc ignores linux.seccomp unless asked. Its `none` network is gVisor's own netstack with
    // only a loopback interface, up: cordon's loopback. (`sandbox` would copy the interfaces of
    // the container's network namespace, and runsc 2022's check that this is not the host's
    // namespace fails on kernels where net.core.rmem_default is per namespace: "cannot run
    // with network enabled in root network namespace".)
    flags.push('--oci-seccomp')
    flags.push(`--network=${policy.network === 'host' ? 'host' : 'none'}`)
  }
  return flags
}

/** The bundle's config for this caller. Without root, runc runs rootless: its user namespace
 * maps exactly one id (the caller) and runc's own setup inside needs it to be 0, so the command
 * runs as uid 0 of that namespace, still without capabilities; no cgroup, so no resources. */
export function backendConfig(
  given: ResolvedPolicy,
  command: string[],
  uid: number,
  gid: number,
  cwd: string,
  backend?: RuntimeBackend,
): { config: OciConfig; files: ReturnType<typeof ociConfig>['files'] } {
  // As natively: cordon's own state (and the runtimes', under it for a plain caller) is hidden
  // wherever a bind would show it (plan/state-mask.ts), every place of it made first.
  ensureStateDirs()
  const hidden = hideStateDir(given, callerUid())
  // The sandbox's hostname in its /etc/hosts, as natively (plan/sandbox-hosts.ts).
  const hosts = sandboxHosts(hidden, realHostFs, [])
  const policy = hosts ? { ...hidden, filesystem: [...hidden.filesystem, hosts] } : hidden
  // runc and runsc make a missing mount point where the view leads, as the launcher would: in a
  // host directory under a writable bind they left it there after the run (runsc's gofer even
  // beneath a tmpfs, or through a read-only bind). Refused as the native backend refuses it
  // (plan/mount-points.ts), before any runtime starts. The export mounts the view with or
  // without a mount namespace in the policy.
  // runc also sets up /dev in the rootfs: the export gives a view without one a tmpfs there when
  // a bind holds the root (oci-bundle.ts), whose mount point is the host directory's too.
  const devMade = backend !== 'gvisor' && ownDevNeeded(policy)
  // gVisor mounts its own devpts at /dev/pts when the bundle has none: under a bind at /dev its
  // gofer made the mount point in that host directory (world-writable, and left there).
  const ptsMade =
    backend === 'gvisor' &&
    policy.filesystem.some((e) => e.kind === 'bind' && e.dest === '/dev') &&
    !policy.filesystem.some((e) => e.dest === '/dev/pts')
  const implied: ViewEntry[] = [
    ...(devMade ? [{ kind: 'dev' as const, dest: '/dev' }] : []),
    ...(ptsMade ? [{ kind: 'dev' as const, dest: '/dev/pts' }] : []),
  ]
  compileView([...policy.filesystem, ...implied], [], undefined, { gofer: backend === 'gvisor' })
  const { config, files } = ociConfig(policy, {
    name: 'cordon',
    command,
    arch: process.arch,
    image: '',
    uid,
    gid,
    cwd,
  })
  // The export writes `symlink:` and `mkdir:` entries into the bundle's own rootfs: under a bind
  // they are hidden (the runtimes make only mounts), and what the view was checked with is not
  // what runs. Only a name the host directory already holds, as the entry says, stands.
  for (const e of policy.filesystem) {
    if (e.kind !== 'symlink' && e.kind !== 'mkdir') continue
    // runc copies the rootfs's names up into a tmpfs over them (oci-bundle.ts tmpcopyup);
    // runsc ignores the option, and its tmpfs starts empty.
    const holder = mountAt(policy.filesystem, e.dest, e)
    if (backend === 'gvisor' && (holder?.kind === 'tmpfs' || holder?.kind === 'dev'))
      throw new CordonError(
        'invalid_policy',
        `\`${e.kind}: ${e.named ?? e.dest}\` is in \`${holder.kind}: ${holder.dest}\`, where --backend gvisor cannot make it ` +
          '(runsc ignores the tmpcopyup that carries it there under runc, and its tmpfs starts empty): ' +
          'drop the entry, or run with --backend runc or natively',
      )
    const host = hostPathIn(policy.filesystem, e.dest)
    if (host === undefined) continue
    const st = lstatSync(fsPath(host), { throwIfNoEntry: false })
    const holds =
      e.kind === 'mkdir'
        ? st?.isDirectory()
        : st?.isSymbolicLink() &&
          pathFromBytes(readlinkSync(fsPath(host), { encoding: 'buffer' })) === e.target
    if (!holds)
      throw new CordonError(
        'invalid_policy',
        `\`${e.kind}: ${e.dest}\` is under a bind, where --backend ${backend ?? 'runc'} cannot make it (the runtime ` +
          `makes only mounts; cordon writes such entries into the bundle's own root, which the bind covers): ` +
          `create it in the host directory (${host}) or run natively`,
      )
  }
  // Both runtimes make a missing working directory too (MkdirAll), where the native launcher's
  // chdir fails: through a bind, in the host's directory.
  const binds = policy.filesystem.filter((e) => e.kind === 'bind')
  // Followed as the runtime follows it: through the view's symlinks, not the host's.
  const view = backend === 'gvisor' ? binds : policy.filesystem
  const inside = resolveViewPath(config.process.cwd, realHostFs, view).path
  const hostCwd = hostPathIn(view, inside)
  if (hostCwd !== undefined && realHostFs.kind(hostCwd) !== 'dir')
    throw new CordonError(
      'setup_failed',
      `chdir ${inside}: no such directory in the sandbox's view (it would be ${hostCwd} on the host, ` +
        `which ${backend ?? 'the runtime'} would create there); create it first or choose another --cwd`,
    )
  if (uid !== 0) {
    if (!config.linux.namespaces.some((n) => n.type === 'user'))
      config.linux.namespaces.push({ type: 'user' })
    config.process.user = { uid: 0, gid: 0 }
    config.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }]
    config.linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }]
  }
  if (uid === 0 && backend === 'runc' && remappable(policy)) {
    // As cordon's own launcher does for a root caller (plan/compile.ts sandboxIdentity): the
    // container's ids are an unprivileged host range. runc 1.1 has no idmapped mounts, so a
    // policy with writable binds keeps host root (its status says so).
    const r = hostIdRanges()
    if (!config.linux.namespaces.some((n) => n.type === 'user'))
      config.linux.namespaces.push({ type: 'user' })
    config.linux.uidMappings = [{ containerID: 0, hostID: r.uid.start, size: r.uid.count }]
    config.linux.gidMappings = [{ containerID: 0, hostID: r.gid.start, size: r.gid.count }]
  }
  if (!cgroupAccess(uid).ok) delete config.linux.resources
  if (config.linux.seccomp) config.linux.seccomp = killWholeProcess(config.linux.seccomp)
  if (backend === 'gvisor') forGvisor(config, policy, process.arch, runtimePath(backend) ?? 'runsc')
  else procWithoutPidNamespace(config)
  // Last: the init checks the profile the runtime will load.
  withInit(config, [...policy.filesystem, ...implied], backend ?? 'runc')
  return { config, files }
}

export interface RuntimeProcess {
  readonly child: ChildProcess
  readonly id: string
  kill(signal?: NodeJS.Signals): boolean
  readonly exited: Promise<RuntimeExit>
}

export interface RuntimeExit {
  code: number
  reason: ExitReason
  /** The runtime's own error when it could not start the command. */
  error?: string
  /** The runtime printed that error itself, on the stderr it was given (runc's fatal() always
   * writes there): a caller that shows stderr need not repeat it. */
  errorShown?: boolean
  durationMs: number
}

export interface RuntimeOptions {
  stdio?: StdioOptions
  cwd?: string
}

export function spawnOnRuntime(
  policy: ResolvedPolicy,
  backend: RuntimeBackend,
  command: string[],
  options: RuntimeOptions = {},
): RuntimeProcess {
  const available = backendAvailable(backend)
  if (!available.ok) throw new CordonError('setup_failed', `--backend ${backend}: ${available.why}`)
  const realtime = realtimePolicy()
  if (realtime)
    throw new CordonError(
      'setup_failed',
      `--backend ${backend}: cordon runs with ${realtime} (from its caller), which the runtime and the container ` +
        'would keep: rlimits do not take a real-time policy back, and it runs past the CPU limit. Run cordon ' +
        'at the default policy (without chrt), or with the native backend, whose launcher starts the sandbox at it',
    )
  const caller = callerContext()
  const uid = caller.uid
  const program = runtimePath(backend)!
  const flags = globalFlags(backend, policy, uid) // before the bundle: it throws on an unsafe state dir
  sweepOrphans(installedRuntimes(), uid)
  // Before the bundle: a policy it refuses (a missing --cwd) left the bundle behind (helper-114).
  const { config, files } = backendConfig(
    policy,
    command,
    uid,
    caller.gid,
    options.cwd ?? caller.cwd,
    backend,
  )
  const id = containerId()
  // The container's group at a place cordon knows, as its own runs' (`/<name>` in each
  // hierarchy): the runtimes' default is beneath their own group, which a cgroup namespace
  // hides from /proc/self/cgroup. Its limits are read there (limitReason), and a paused one is
  // thawed there (runtime-stop.ts killRuntimeTree).
  if (config.linux.resources) config.linux.cgroupsPath = `/${id}`
  const bundle = makeBundleDir()
  try {
    writeExport(bundle, [
      // The environment it carries (`--pass-env TOKEN`) is the caller's: only the runtime, run
      // by the caller, reads it (a root run's bundle is traversable by all: helper-127).
      { kind: 'file', path: 'config.json', content: `${stringifyOci(config)}\n`, mode: 0o600 },
      { kind: 'dir', path: 'rootfs' },
      ...files,
    ])
  } catch (e) {
    removeBundle(bundle)
    // A full or unwritable TMPDIR was an internal error with a stack (helper-114).
    const code = (e as NodeJS.ErrnoException).code
    if (typeof code === 'string' && code.startsWith('E'))
      throw new CordonError(
        'setup_failed',
        `--backend ${backend}: cannot write the container's bundle in ${dirname(bundle)} (${code}); ` +
          'free space there, or point TMPDIR at a directory with room',
        { cause: e },
      )
    throw e
  }
  // A remapped container's root builds its view in rootfs: the bundle is only traversable (its
  // config stays unreadable to the range), rootfs is the container root's, and so is what the
  // export wrote in it (the directories a `symlink:` or `mkdir:` entry needs): runc makes the
  // mount points beneath them as that root (a learned policy's /usr/lib64 link left /usr
  // root's, and runc's mkdir of /usr/bin was refused).
  const range = config.linux.uidMappings?.[0]
  if (uid === 0 && range && range.hostID !== 0) {
    chmodSync(bundle, 0o711)
    const rangeGid = config.linux.gidMappings?.[0]?.hostID ?? range.hostID
    chownTree(join(bundle, 'rootfs'), range.hostID, rangeGid)
    // What that root binds (the policy's `file:` contents, the tmpfs modes' directories:
    // export/oci-bundle.ts modeUnder), closed to everyone else: the contents may be secrets, and
    // modes/1777 is world-writable (helper-126, -127).
    for (const dir of ['files', 'modes'])
      if (files.some((f) => f.path.startsWith(`${dir}/`))) {
        chmodSync(join(bundle, dir), 0o700)
        chownTree(join(bundle, dir), range.hostID, rangeGid)
      }
  }
  const log = join(bundle, 'runtime.log')
  const global = [...flags, '--log', log, '--log-format', 'json']
  // kill, state and delete log elsewhere: racing the command's exit, they may fail ("container
  // does not exist"), which is no error of the run's.
  const aux = [...flags, '--log', join(bundle, 'aux.log'), '--log-format', 'json']
  const started = Date.now()
  // The runtimes chown the stdio they are given to the container's user (runsc to nobody when
  // the container is root): handed /dev/null (Node's 'ignore'), an inherited file or the
  // caller's terminal (a host device node: /dev/pts/N), they would change a host file. So every
  // stream is a pipe of ours, copied through, terminals too (the command sees no terminal under
  // a runtime backend); runsc also leaves O_NONBLOCK set on the pipes it inherits, which this
  // avoids too.
  const wanted = streamModes(options.stdio ?? 'inherit')
  // gVisor passes the stdin it is given to the command: a pipe for it goes through the launcher's
  // relay (native/stdio-relay.h), a pipe of cordon's fed from the caller's without reading ahead
  // of the command. Copied by Node's stream, the caller's pipe was read ahead, and a `while read`
  // loop around the run lost the lines the command never read. runc in the foreground copies its
  // stdin into a pipe of its own (io.Copy, setupProcessPipes) whatever it is given, so under runc
  // the relay would only see runc read: the read-ahead stays there (README, Backends).
  const relayed = backend === 'gvisor' && wanted[0] === 'inherit' && stdinIsPipe()
  const copy = ([0, 1, 2] as const).filter((fd) => wanted[fd] === 'inherit' && !(fd === 0 && relayed))
  // runc's --keep leaves the stopped container, its cgroup with it, to cordon's delete: the
  // limits' counters are read in between (limitReason). runsc has no such flag.
  const runtimeArgs = [...global, 'run', ...(backend === 'runc' ? ['--keep'] : []), '--bundle', bundle, id]
  // In a session of its own: a terminal's Ctrl-C (or Ctrl-\\) reaches the foreground job's whole
  // group, and the runtime in cordon's got it beside cordon's forwarded copy: runc passed both on
  // (a handler ran twice), `runsc run` took it as its own stop (the handler never ran) or dumped
  // its goroutines (helper-120). Its stdio are pipes, never the terminal.
  const child = relayed
    ? spawnChild(launcherPath(), ['--stdin-relay', '--', program, ...runtimeArgs], {
        stdio: ['inherit', 'pipe', 'pipe'],
        detached: true,
      })
    : spawnChild(program, runtimeArgs, { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  // A runtime that could not start (EMFILE making its pipes) has no streams: its 'error' ends
  // the run (exited below); piping into the missing stdin was a TypeError with a stack.
  const running = child.pid !== undefined
  if (running && copy.includes(0)) process.stdin.pipe(child.stdin!).on('error', () => {})
  // A reader gone (`… | head -1`) fails the write with EPIPE: an 'error' no one handled ended
  // cordon with a stack trace and the container running (helper-114). The copy stops instead,
  // and closing the runtime's pipe gives the command its own EPIPE (SIGPIPE), as natively.
  const copyOut = (from: Readable, to: NodeJS.WritableStream) => {
    from.pipe(to)
    to.once('error', () => {
      from.unpipe(to)
      from.destroy()
    })
  }
  if (running && copy.includes(1)) copyOut(child.stdout, process.stdout)
  if (running && copy.includes(2)) copyOut(child.stderr, process.stderr)
  if (wanted[0] === 'ignore') child.stdin?.end()
  if (wanted[1] === 'ignore') child.stdout?.resume()
  if (wanted[2] === 'ignore') child.stderr?.resume()
  let timedOut = false
  // Asynchronous, and bounded: a wedged runtime (runsc with its sandbox stopped) answered no
  // kill for 5 s, and a synchronous call held cordon's signal handler, and the output, that long
  // per signal (helper-120).
  const runtimeKill = (signal: string, then?: (delivered: boolean) => void) => {
    const kill = spawnChild(program, [...aux, 'kill', id, signal], {
      stdio: 'ignore',
      timeout: RUNTIME_CALL_MS,
    })
    let answered = false
    const answer = (delivered: boolean) => {
      if (!answered) then?.(delivered)
      answered = true
    }
    kill.once('error', () => answer(false))
    kill.once('close', (code) => answer(code === 0))
  }
  const launcher = identify([child.pid ?? 0])[0]
  // The runtime's own kill first (it cleans its state up); when the runtime is wedged it blocks
  // on the container's lock, which a `runsc run` stuck in start holds for ever (its gofer died
  // at a pids limit), or the signal waits in a paused sandbox: then every process below the
  // runtime is killed by identity, and the wait for the streams is bounded too.
  const stop = () => {
    runtimeKill('KILL')
    escalation ??= setTimeout(() => {
      killRuntimeTree(launcher, id)
      escalation = setTimeout(() => {
        // Something else holds the streams: the run ends all the same, with what they gave.
        child.stdout?.destroy()
        child.stderr?.destroy()
        forceEnd?.()
      }, STOP_GRACE_MS)
    }, STOP_GRACE_MS)
  }
  let escalation: NodeJS.Timeout | undefined
  let forceEnd: (() => void) | undefined
  const timer =
    policy.limits.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true
          stop()
        }, policy.limits.timeoutMs)
      : undefined
  // A signal runc forwards to a container's pid 1 that has no handler for it is dropped by the
  // kernel (gVisor delivers it): the command would outlive a SIGINT or SIGTERM that natively,
  // under cordon's init, ends it. The default action is done here instead: killed, and reported
  // as that signal (130 for SIGINT), as natively. The handler is judged before the signal is
  // sent: a command that handles it and exits resets its handlers as it ends (Python does), and
  // judged after, it looked unhandled and was killed (130 instead of its own status).
  let signalled: number | undefined
  // The container has a cgroup of the runtime's own (resources), which the delete removes.
  const limited = backend === 'runc' && config.linux.resources !== undefined
  const forward = (signal: NodeJS.Signals) => {
    const n = constants.signals[signal]
    if (backend === 'gvisor' && n !== undefined) {
      // `runsc run` takes SIGINT and SIGTERM as its own stop (the sandbox was killed: a command
      // that handles them never got them) and SIGUSR1 for itself (lost): `runsc kill` delivers
      // to the container's first process, cordon's init, which passes it to the command.
      runtimeKill(String(n), (delivered) => {
        if (delivered || !TERMINATING.has(signal)) return
        // No container yet (or gone): the command never starts, as natively before the go.
        signalled ??= n
        stop()
      })
      return true
    }
    if (backend !== 'runc' || !TERMINATING.has(signal) || n === undefined) return child.kill(signal)
    const init = containerInit(program, aux, id)
    // Before the command runs (no container yet, or runc's own init in it, which drops the
    // signal): the command never starts, and the run ends by the signal, as natively before the
    // go. Forwarded, it was lost, and the command ran to its end (helper-114: exit 0).
    if (init === null || !init.command) {
      signalled ??= n
      stop()
      return true
    }
    if (init.pid !== undefined && handles(init.pid, n)) return child.kill(signal)
    // Unhandled by a pid 1 that is the command (no init: a profile that refuses its calls),
    // or no process left while runc runs on (its own init died under `seccomp: default:
    // kill-thread`, and runc waited for ever; helper-119): ended here, as the signal would.
    signalled ??= n
    if (init.pid === undefined) stop()
    else runtimeKill('KILL')
    return true
  }
  const exited = new Promise<RuntimeExit>((resolve) => {
    child.on('error', (e) => finish(125, 'setup', e.message))
    child.on('close', (code, signal) => {
      const error = runtimeError(log)
      // A timeout or a signal first: what the runtime logged while it was being killed (before
      // the command started, too) is no setup error.
      if (timedOut) finish(137, 'timeout')
      else if (signalled !== undefined) finish(128 + signalled, 'signal')
      else if (error !== undefined) finish(125, 'setup', error, backend === 'runc' && wanted[2] === 'inherit')
      else if (signal) finish(128 + (constants.signals[signal] ?? 0), 'signal')
      else if (code !== null && code !== 0 && limited) finish(code, limitReason(id, code))
      else finish(code ?? 125, code !== null && code > 128 ? 'signal' : 'exited')
    })
    let done = false
    forceEnd = () => finish(137, 'timeout')
    function finish(code: number, reason: ExitReason, error?: string, errorShown = false) {
      if (done) return
      done = true
      if (timer) clearTimeout(timer)
      if (escalation) clearTimeout(escalation)
      if (copy.includes(0)) {
        process.stdin.unpipe(child.stdin!)
        process.stdin.destroy()
      }
      spawnSync(program, [...aux, 'delete', '--force', id], { stdio: 'ignore', timeout: RUNTIME_CALL_MS })
      if (config.linux.cgroupsPath) removeContainerGroups(id)
      removeBundle(bundle)
      resolve({
        code,
        reason,
        ...(error !== undefined ? { error } : {}),
        ...(errorShown ? { errorShown } : {}),
        durationMs: Date.now() - started,
      })
    }
  })
  return {
    child,
    id,
    exited,
    kill: (signal = 'SIGTERM') => forward(signal),
  }
}

/** The profile with each thread kill a process kill: the filter is loaded in runc's init
 * (Go) before its exec of the command, and a call it refuses that way killed one thread of it,
 * leaving its others and `runc run` waiting for ever (helper-119, helper-120). A process kill
 * refuses the same calls, and no less. */
function killWholeProcess(profile: OciProfile): OciProfile {
  const whole = (action: string) =>
    action === 'SCMP_ACT_KILL_THREAD' || action === 'SCMP_ACT_KILL' ? 'SCMP_ACT_KILL_PROCESS' : action
  return {
    ...profile,
    defaultAction: whole(profile.defaultAction),
    ...(profile.syscalls
      ? { syscalls: profile.syscalls.map((r) => ({ ...r, action: whole(r.action) })) }
      : {}),
  }
}

/** Why a container that ended with a failing status did, as natively (run/sandbox-process.ts
 * reasonFor): its memory limit, when the kernel OOM-killed in its group and the status is a
 * SIGKILL's; its pids limit, when a fork was refused. The group is `/<id>` (its cgroupsPath),
 * kept by `runc run --keep` until cordon's delete. runc's status is 128+N for a signal, as
 * cordon's init's. */
function limitReason(id: string, code: number): ExitReason {
  let group: CgroupV1 | CgroupV2 | undefined
  try {
    const { v1, v2 } = cgroupMounts()
    const dirs = Object.fromEntries(
      (['memory', 'pids'] as const).flatMap((c) => (v1[c] ? [[c, join(v1[c], id)]] : [])),
    )
    group = Object.keys(dirs).length ? new CgroupV1(dirs) : v2 ? new CgroupV2(join(v2, id)) : undefined
  } catch {} // mountinfo unreadable (EMFILE): no reason to add
  const { oomKills, pidsMax } = group?.events() ?? { oomKills: 0, pidsMax: 0 }
  if (oomKills && code === 137) return 'oom'
  if (pidsMax) return 'pids'
  return code > 128 ? 'signal' : 'exited'
}

/** Removes a run's bundle; one that cannot be removed now (EMFILE) is swept by a later run
 * (orphans.ts), never an error that hides the run's own. */
function removeBundle(bundle: string): void {
  // Never by path (rmSync follows a directory swapped for a symlink mid-walk): the container's
  // root owns rootfs and the tmpfs modes, and a program there could swap one (helper-126).
  try {
    removeTree(bundle)
  } catch {}
}

/** Whether this process's stdin is a pipe or a FIFO. */
function stdinIsPipe(): boolean {
  try {
    return fstatSync(0).isFIFO()
  } catch {
    return false
  }
}

/** Runs to completion with the output captured (verify, tests, benchmarks). */
export async function runOnRuntime(
  policy: ResolvedPolicy,
  backend: RuntimeBackend,
  command: string[],
  options: Omit<RuntimeOptions, 'stdio'> & { timeoutMs?: number } = {},
): Promise<RuntimeExit & { stdout: string; stderr: string; timedOut: boolean }> {
  const { timeoutMs, ...rest } = options
  const p = spawnOnRuntime(policy, backend, command, { ...rest, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  p.child.stdout?.on('data', (b: Buffer) => out.push(b))
  p.child.stderr?.on('data', (b: Buffer) => err.push(b))
  let timedOut = false
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true
          p.kill('SIGKILL')
        }, timeoutMs)
  const result = await p.exited
  clearTimeout(timer)
  return { ...result, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), timedOut }
}

/** The first error the runtime logged (JSON lines: {"level":"error","msg":…}). */
function runtimeError(log: string): string | undefined {
  if (!existsSync(log)) return undefined
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string }
      if (entry.level === 'error' || entry.level === 'fatal') return entry.msg ?? line
    } catch {
      // a torn last line: not an error report
    }
  }
  return undefined
}

/** Each of fds 0-2 as 'inherit', 'pipe' or 'ignore' (what the caller asked for). */
function streamModes(stdio: StdioOptions): ('inherit' | 'pipe' | 'ignore')[] {
  const list = typeof stdio === 'string' ? [stdio, stdio, stdio] : stdio
  return [0, 1, 2].map((fd) => {
    const m = list[fd]
    if (m === 'ignore' || m === 'pipe' || m === 'inherit') return m
    if (m === undefined || m === null) return 'pipe'
    throw new Error(`runtime backends take 'inherit', 'pipe' or 'ignore' for fd ${fd}`)
  })
}

/** Gives path and everything beneath it to uid:gid, links themselves and not what they name:
 * a tree this process has just written in its own private bundle. */
function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid)
  if (!lstatSync(path).isDirectory()) return
  for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid)
}

/** runc mounts a new procfs for a `proc:` entry. In a user namespace (a plain caller's rootless
 * runc, a root caller's id range) without a pid namespace of its own, the kernel refuses it:
 * mounting procfs needs CAP_SYS_ADMIN over the pid namespace's owner, the host's here
 * (`--no-namespaces` failed with "mount proc: operation not permitted"). Without a pid
 * namespace the policy shows the host's processes, so the host's /proc, bound, shows what a
 * new procfs would; runc masks and write-protects in it as in its own (maskedPaths,
 * readonlyPaths). Mounting, not binding, stays where it is allowed. */
function procWithoutPidNamespace(config: OciConfig): OciConfig {
  const types = new Set(config.linux.namespaces.map((n) => n.type))
  if (!types.has('user') || types.has('pid')) return config
  config.mounts = config.mounts.map((m) =>
    m.type === 'proc'
      ? {
          destination: m.destination,
          type: 'bind',
          source: '/proc',
          options: ['rbind', ...(m.options ?? []).filter((o) => o !== 'rbind' && o !== 'bind')],
        }
      : m,
  )
  return config
}

/** A root caller's runc container runs as the host id range when nothing in it must be written
 * as the host's owners (no writable bind) and the policy does not ask for host root. */
export const remappable = (policy: ResolvedPolicy): boolean =>
  !policy.user.hostRoot &&
  (policy.user.uid ?? 0) < 65536 &&
  (policy.user.gid ?? 0) < 65536 &&
  !policy.filesystem.some((e) => e.kind === 'bind' && !e.readOnly)
