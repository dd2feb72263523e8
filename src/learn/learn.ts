// A traced run: the command runs under the base policy's namespaces, identity, environment,
// network and seccomp outcomes, but sees the host's filesystem (minus the base's private
// mounts: /proc, /dev, tmpfs), and the launcher records every syscall, path and address.
import { callerCwd } from '../host/path-bytes.js'
import { type ResolvedPolicy, sharedDirectoryAt, type ViewEntry } from '../policy/resolve.js'
import { type ExitResult, spawnWith } from '../run/spawn.js'
import type { SandboxEvent } from '../run/events.js'
import { holdStartSignals, releaseStartGuard } from '../host/start-guard.js'
import { forwardOthers } from '../run/launcher-process.js'
import { type TraceMode, traceFilters } from './trace.js'
import { emptyObservation, type Observation, Recorder } from './observation.js'
import { under } from './paths.js'
import { archByName } from '../seccomp/arch.js'
import { holdsHostRoot } from '../policy/effective.js'
import { firstUnsearchable, type HostCreds, sandboxHostCreds, searchable } from './reach.js'
import { execGrants } from '../plan/view.js'

export interface TracedRunOptions {
  mode: TraceMode
  /** Runs to add to (merge); a fresh observation otherwise. */
  into?: Observation
  stdio?: 'inherit' | 'pipe' | 'ignore'
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Signals to pass on to the command while it runs (a CLI's INT, TERM…). */
  forwardSignals?: readonly NodeJS.Signals[]
  /** Each event as it arrives (progress, audit reports). */
  onEvent?: (ev: SandboxEvent) => void
}

export interface TracedRun {
  observation: Observation
  result: ExitResult
  /** Records whose arguments the launcher could not read (SyscallEvent.unreadable). */
  unreadable: number
}

/** What a run with unreadable calls could not see, for learn's and audit's messages. */
export const UNREADABLE_WHY =
  'the launcher may not read the program’s memory: it is non-dumpable (a binary its user may not read, ' +
  'or one that called prctl(PR_SET_DUMPABLE, 0)), which only root’s launcher may read'

const rwBind = (path: string): Extract<ViewEntry, { kind: 'bind' }> => ({
  kind: 'bind',
  src: path,
  dest: path,
  readOnly: false,
  optional: false,
})

/**
 * The base policy with the host's filesystem in place of its view: the host's root read-write,
 * then the base's private mounts (proc, dev, tmpfs) and masks, then — read-write — whatever the
 * base binds on top of a private mount, and the working directory if it lies inside one.
 */
export function traceView(
  base: ResolvedPolicy,
  cwd: string,
  canSearch: (dir: string) => boolean = searchBy(base),
): ResolvedPolicy {
  const own = base.filesystem.filter(
    (e) => e.kind === 'proc' || e.kind === 'dev' || e.kind === 'tmpfs' || e.kind === 'mask',
  )
  const privateDirs = own.flatMap((e) => (e.kind === 'mask' ? [] : [e.dest]))
  const hidden = (p: string) => privateDirs.some((d) => under(p, d))
  // A root caller's sandbox writes as the host's owners only where the base policy makes a bind
  // writable (an idmapped mount, plan/compile.ts) and in the working directory: the rest of the
  // host stays the host's, or the traced program would read every root-only file there.
  // With host root's powers (`--host-root`) a writable host is every root-owned file: /usr/bin,
  // /etc/passwd, cordon's own installation, a hard link to a setuid binary anywhere (helper-135),
  // and so is a base's read-only bind made visible here (helper-136): only the working directory
  // and the base's writable binds are writable then.
  const readOnly = holdsHostRoot(base)
  const hostOnly = (path: string): ViewEntry => ({
    ...rwBind(path),
    idmap: false,
    ...(readOnly ? { readOnly } : {}),
  })
  const exposed = base.filesystem.flatMap((e) =>
    e.kind === 'bind' && (hidden(e.dest) || !e.readOnly)
      ? [e.readOnly ? hostOnly(e.src) : rwBind(e.src)]
      : [],
  )
  // The working directory is where a learned program writes: writable as its owners, so a
  // root caller's learn sees the writes it must allow (the project's files are the caller's).
  // Not a directory that is or holds the host's shared ones, nor a system tree: from `/` (with
  // --profile minimal or a policy, which the project guard lets through) that made the host's
  // root writable as its owners, root's /etc/passwd included (helper-136).
  if (
    !hostTree(cwd) &&
    !exposed.some((e) => e.kind === 'bind' && e.idmap === undefined && under(cwd, e.dest))
  )
    exposed.push(rwBind(cwd))
  return {
    ...base,
    filesystem: [hostOnly('/'), ...own, ...reachable(base, cwd, exposed, hidden, canSearch), ...exposed],
    // Those that grant execute only add to what the view grants already, and keep a tmpfs they
    // reach executable as enforced (plan/view.ts noexecWhere; helper-139: the traced run's
    // own /srv/cache was noexec where the enforced one's was not).
    landlock: {
      ...base.landlock,
      paths: execGrants(base),
    },
  }
}

/** The system's own trees, which no learned program's working directory makes writable. */
const SYSTEM_TREES = [
  '/etc',
  '/boot',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/sys',
  '/dev',
]
const SYSTEM_USR = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'libexec', 'share', 'include']

/** Whether dir is `/`, `/usr`, `/var`, a shared directory or one holding one (a home's parent,
 * /tmp: policy/resolve.ts), or lies in a system tree. */
function hostTree(dir: string): boolean {
  return (
    dir === '/usr' ||
    dir === '/var' ||
    sharedDirectoryAt(dir) !== undefined ||
    SYSTEM_TREES.some((t) => under(dir, t)) ||
    SYSTEM_USR.some((t) => under(dir, `/usr/${t}`))
  )
}

/**
 * A directory on the way to the working directory that the sandbox's host ids cannot search
 * (a root caller's /root, 0700) would stop the launcher making the working directory's mount
 * point, and the program reaching it: in the traced view it becomes a private tmpfs holding
 * just the binds below it, the base's read-only ones as the host's. The program loses nothing
 * it could have read there: the host refused it every entry.
 */
function reachable(
  base: ResolvedPolicy,
  cwd: string,
  exposed: readonly ViewEntry[],
  hidden: (p: string) => boolean,
  canSearch: (dir: string) => boolean,
): ViewEntry[] {
  // Past a private mount or a bind the view itself provides, the host's modes do not apply.
  const shown = (d: string) =>
    hidden(d) || exposed.some((e) => e.kind === 'bind' && e.idmap === undefined && under(d, e.dest))
  const stop = firstUnsearchable(cwd, (d) => shown(d) || canSearch(d))
  if (!stop) return []
  const below = base.filesystem.flatMap((e) =>
    e.kind === 'bind' && e.readOnly && under(e.dest, stop)
      ? [{ ...e, readOnly: false, idmap: false as const }]
      : [],
  )
  return [{ kind: 'tmpfs', dest: stop, size: 1 << 20, mode: 0o755 }, ...below]
}

const searchBy = (base: ResolvedPolicy) => {
  let creds: HostCreds | undefined
  return (dir: string) => searchable(dir, (creds ??= sandboxHostCreds(base)))
}

/** The syscall table's name for this machine (x86_64 for Node's x64). */
export const nativeArch = () => archByName(process.arch)?.name ?? process.arch

export async function tracedRun(
  base: ResolvedPolicy,
  command: string,
  args: readonly string[],
  opts: TracedRunOptions,
): Promise<TracedRun> {
  const cwd = opts.cwd ?? callerCwd()
  const observation = opts.into ?? emptyObservation(nativeArch())
  const recorder = new Recorder(observation, Date.now, true)
  // The CLI's (it forwards signals): held from the start until the forwarding is in place, just
  // before the go. The launcher is told, and drops the copy of a job-wide signal: without it a
  // Ctrl-C reached a learned or audited program twice.
  const forwards = (opts.forwardSignals?.length ?? 0) > 0
  if (forwards) holdStartSignals(opts.forwardSignals ?? [])
  const forward = (signal: NodeJS.Signals) => child.forward(signal)
  let stopOthers = () => {}
  const child = spawnWith(
    { kind: 'resolved', policy: traceView(base, cwd) },
    command,
    args,
    {
      stdio: opts.stdio ?? 'inherit',
      context: { trace: { mode: opts.mode, rewrite: (spec) => traceFilters(spec, opts.mode) }, cwd },
      cgroup: true,
      // Spawns are counted, not stopped: they come as process events (seccomp/notify.ts).
      processEvents: true,
      statsIntervalMs: 100,
      ...(opts.env ? { hostEnv: opts.env } : {}),
    },
    {
      beforeGo: (launcher) => {
        for (const sig of opts.forwardSignals ?? []) process.on(sig, forward)
        if (forwards) stopOthers = forwardOthers(launcher, opts.forwardSignals ?? [])
        releaseStartGuard()
      },
      forwardsSignals: forwards,
    },
  )
  let unreadable = 0
  for await (const ev of child.events) {
    if (ev.event === 'syscall' && ev.unreadable) unreadable++
    recorder.add(ev)
    opts.onEvent?.(ev)
  }
  const result = await child.exited
  stopOthers()
  for (const sig of opts.forwardSignals ?? []) process.off(sig, forward)
  if (result.stats) {
    const peaks = observation.peaks
    peaks.memoryBytes = Math.max(peaks.memoryBytes ?? 0, result.stats.memoryPeakBytes)
  }
  observation.runs.push({
    command: [command, ...args],
    // Where the command ran: the policy's own `cwd:` (a profile's `/` for a shared directory)
    // wins over the caller's, and the learned policy starts where the run started.
    cwd: base.cwd ?? cwd,
    at: new Date().toISOString(),
    durationMs: Math.round(result.durationMs),
    exit: result.code,
  })
  return { observation, result, unreadable }
}
