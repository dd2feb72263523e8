// `exec`: a new process in a running container, with runc's flags. Its plan is the container's
// own (translateConfig over the config saved at create, the exec's process in place of the
// init's) with the namespace and view ops replaced by joins of the init's namespaces: the
// cgroup, capabilities, no_new_privs, Landlock rules and seccomp filter come from the same code
// as the init's, so the new process never has fewer restrictions than the container's init.
import { spawn } from 'node:child_process'
import { closeSync, constants as fsConstants, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { constants } from 'node:os'
import { resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CordonError } from '../errors.js'
import { encodePlan } from '../plan/encode.js'
import { CLONE_FLAGS, type PlanOp } from '../plan/model.js'
import { launcherPath } from './create.js'
import { holdSignals, LAUNCHER_OWN } from './forward-signals.js'
import { type ExecContext, loadExecContext } from './exec-context.js'
import { invalid, type OciProcess, unsupported } from './spec.js'
import { containerDir, isAlive, isRecorded, loadRecord, procStatAt, statusOf } from './state.js'
import { seccompFilter } from './seccomp.js'
import type { CachedFilter } from './seccomp-cache.js'
import { translateConfig } from './translate.js'

export interface ExecOptions {
  root: string
  id: string
  /** --process FILE, or the command line's process built on the container's. */
  process: OciProcess
  consoleSocket?: string
  pidFile?: string
  detach: boolean
  preserveFds: number
}

/** /proc/PID/ns names of the spec's namespace types; the user namespace is joined first. */
const NS_FILES: readonly [string, string, number][] = [
  ['user', 'user', CLONE_FLAGS.user],
  ['pid', 'pid', CLONE_FLAGS.pid],
  ['network', 'net', CLONE_FLAGS.net],
  ['ipc', 'ipc', CLONE_FLAGS.ipc],
  ['uts', 'uts', CLONE_FLAGS.uts],
  ['cgroup', 'cgroup', CLONE_FLAGS.cgroup],
  ['time', 'time', CLONE_FLAGS.time],
  ['mount', 'mnt', CLONE_FLAGS.mount],
]

/** Ops the launcher would use to make the container; the exec joins the made one instead. */
const CREATION_OPS = new Set([
  'namespaces',
  'setns',
  'cgroup_devices',
  'uid_map',
  'gid_map',
  'root',
  'bind',
  'tmpfs',
  'proc',
  'devpts',
  'mkdir',
  'symlink',
  'file',
  'remount_ro',
  'pivot_root',
  'fsmount',
  'mknod',
  'hostname',
  'loopback',
  'propagation',
  'leave_mount_ns',
])

type Caps = NonNullable<OciProcess['capabilities']>
const CAP_SETS = ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const

/**
 * The exec's process, bounded by the init's: capabilities within the init's bounding set (a
 * request for more is refused by name, not silently cut), no_new_privs kept when the init has
 * it, and each of the init's rlimits kept unless the exec asks for a lower one.
 */
export function boundProcess(init: OciProcess, exec: OciProcess): OciProcess {
  const bounding = new Set(init.capabilities?.bounding ?? [])
  const caps: Caps = {}
  for (const set of CAP_SETS) {
    const names = exec.capabilities?.[set] ?? []
    for (const name of names)
      if (!bounding.has(name))
        throw unsupported(
          `process.capabilities.${set}`,
          `${name} is not in the container's bounding set: an exec'd process gets no capability its container lacks (no exec --privileged)`,
        )
    caps[set] = names
  }
  const limits = new Map((init.rlimits ?? []).map((r) => [r.type, { ...r }]))
  for (const r of exec.rlimits ?? []) {
    const had = limits.get(r.type)
    limits.set(
      r.type,
      had ? { type: r.type, soft: Math.min(had.soft, r.soft), hard: Math.min(had.hard, r.hard) } : r,
    )
  }
  // oomScoreAdj is set once for the container by create; the exec's process inherits it.
  const rest = { ...exec }
  delete rest.oomScoreAdj
  return {
    ...rest,
    capabilities: caps,
    rlimits: [...limits.values()],
    noNewPrivileges: !!init.noNewPrivileges || !!exec.noNewPrivileges,
  }
}

/** The exec plan: the container's plan for this process, joining instead of creating. `init` is
 * the container init's /proc directory as the launcher reaches it (/proc/self/fd/N of a
 * directory fd bound to that process: see openInit). */
export function execPlanOps(
  ctx: ExecContext,
  rec: { bundle: string; cgroupDirs: string[] },
  o: ExecOptions,
  init: string,
  seccomp: CachedFilter | undefined,
): PlanOp[] {
  const config = ctx.config
  const process = boundProcess(config.process ?? o.process, o.process)
  const t = translateConfig(
    // Hooks and sysctls are the container's, already run and set: not the exec's to repeat.
    { ...config, process, hooks: {} },
    {
      ...(seccomp ? { seccomp } : {}),
      bundle: rec.bundle,
      cgroups: ctx.cgroups,
      cgroupDirs: rec.cgroupDirs,
      preserveFds: o.preserveFds,
      ...(o.consoleSocket ? { consoleSocket: o.consoleSocket } : {}),
    },
  )
  // A container with no mount namespace of its own (it shares cordon-oci's) or one joined by
  // path has a detached view as its root, not its namespace's root, which setns would give:
  // the exec joins that namespace too, then takes the init's root (translate.ts detachedRoot).
  const mount = (config.linux?.namespaces ?? []).find((n) => n.type === 'mount')
  const detachedRoot = !mount || !!mount.path
  const kinds = new Set([...(config.linux?.namespaces ?? []).map((n) => n.type), 'mount'])
  const joins: PlanOp[] = NS_FILES.filter(([type]) => kinds.has(type)).map(([, file, bit]) => ({
    op: 'setns',
    type: bit,
    path: `${init}/ns/${file}`,
  }))
  if (detachedRoot) joins.push({ op: 'enter_root', path: `${init}/root` })
  return [...joins, ...t.plan.ops.filter((op) => !CREATION_OPS.has(op.op))]
}

/** runc exec's process from the command line: the container's, with the flags applied. */
export function processFromFlags(
  init: OciProcess,
  args: string[],
  f: {
    tty: boolean
    cwd?: string
    env: string[]
    user?: string
    additionalGids: string[]
    caps: string[]
    noNewPrivs: boolean
  },
): OciProcess {
  if (!args.length)
    throw new CordonError('invalid_usage', 'exec: give the command to run after the container id')
  const p: OciProcess = { ...init, args, terminal: f.tty, env: [...(init.env ?? []), ...f.env] }
  delete p.consoleSize
  if (f.cwd) p.cwd = f.cwd
  if (f.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(f.user)
    if (!m)
      throw new CordonError('invalid_usage', `exec --user: expected UID[:GID] in numbers, got "${f.user}"`)
    p.user = { ...init.user, uid: Number(m[1]), gid: m[2] === undefined ? 0 : Number(m[2]) }
  }
  if (f.additionalGids.length) {
    const gids = f.additionalGids.map(Number)
    if (gids.some((g) => !Number.isInteger(g) || g < 0))
      throw new CordonError('invalid_usage', '--additional-gids: expected numbers')
    p.user = { ...p.user, additionalGids: gids }
  }
  if (f.caps.length) {
    const c = { ...(init.capabilities ?? {}) }
    for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const)
      c[set] = [...new Set([...(c[set] ?? []), ...f.caps])]
    p.capabilities = c
  }
  if (f.noNewPrivs) p.noNewPrivileges = true
  return p
}

export function readProcessFile(path: string): OciProcess {
  let text: string
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8')
  } catch (e) {
    throw new CordonError('not_found', `exec --process ${path}: ${(e as Error).message}`)
  }
  try {
    const p = JSON.parse(text) as OciProcess
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw invalid('process', 'a process object', p)
    return p
  } catch (e) {
    if (e instanceof CordonError) throw e
    throw new CordonError('invalid_policy', `exec --process ${path}: not JSON (${(e as Error).message})`)
  }
}

const osSignals = constants.signals as Record<string, number>

/**
 * The container's init as a directory fd on its /proc entry, checked to be the recorded process
 * (start time, not a zombie) through that fd after it was opened. A /proc/PID directory stays
 * bound to the process it was opened for: once that process is gone, every lookup in it fails,
 * even when the pid has a new owner. So the launcher, given the fd, joins the namespaces and
 * root of the checked process or fails, never those of a process that reused its pid.
 */
export function openInit(rec: { id: string; pid: number; startTime: string }): number {
  const gone = () => new CordonError('invalid_usage', `cannot exec in a stopped container "${rec.id}"`)
  let fd: number
  try {
    fd = openSync(`/proc/${rec.pid}`, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY)
  } catch {
    throw gone()
  }
  // Read through the fd: a process that ended since the open gives ESRCH, never another's.
  if (!isRecorded(procStatAt(`/proc/self/fd/${fd}`), rec)) {
    closeSync(fd)
    throw gone()
  }
  return fd
}

/** Runs the exec; returns the process's exit status, or 0 once started with --detach. */
export async function execProcess(o: ExecOptions): Promise<number> {
  const rec = loadRecord(o.root, o.id)
  const status = statusOf(o.root, rec)
  if (status === 'stopped')
    throw new CordonError('invalid_usage', `cannot exec in a stopped container "${o.id}"`)
  if (status === 'paused')
    throw new CordonError('invalid_usage', `cannot exec in a paused container "${o.id}"`)
  const dir = containerDir(o.root, o.id)
  const ctx = loadExecContext(dir, o.id)
  if (o.process.terminal && !o.consoleSocket)
    throw new CordonError(
      'invalid_usage',
      "exec --tty needs --console-socket: cordon-oci hands the terminal's master to the engine (docker exec -t), as runc does with a socket",
    )
  // The exec's own bounding set can differ from the init's: its own input to the filter cache.
  const seccomp = await seccompFilter(
    { ...ctx.config, process: boundProcess(ctx.config.process ?? o.process, o.process) },
    o.root,
  )
  const init = openInit(rec)
  // The launcher's fd for it: right after the preserved fds, which alone it keeps past execve.
  const initFd = 3 + o.preserveFds
  let ops: PlanOp[]
  try {
    ops = execPlanOps(ctx, rec, o, `/proc/self/fd/${initFd}`, seccomp)
  } catch (e) {
    closeSync(init)
    throw e
  }
  const planPath = `${dir}/exec-${randomBytes(6).toString('hex')}.bin`
  writeFileSync(planPath, encodePlan({ ops, notes: [] }), { mode: 0o600 })
  const args = [
    // In the foreground this process passes its signals on (below), and the launcher, which
    // gets a job-wide one directly too, drops the copy (as run's, create.ts launcherArgs).
    ...(o.detach ? ['--detach'] : ['--forwarded-signals', '--all-signals']),
    ...(o.pidFile ? ['--pid-file', resolve(o.pidFile)] : []),
    ...(o.consoleSocket ? ['--console-socket', resolve(o.consoleSocket)] : []),
    ...(o.consoleSocket && o.process.consoleSize?.height && o.process.consoleSize.width
      ? ['--console-size', `${o.process.consoleSize.height}x${o.process.consoleSize.width}`]
      : []),
    planPath,
  ]
  process.umask(o.process.user.umask ?? 0o022)
  const stdio = [
    'inherit',
    'inherit',
    'inherit',
    ...Array.from({ length: o.preserveFds }, (_, i) => i + 3),
    init,
  ] as const
  // Held from before the spawn: one that came before the launcher's pid was known ended this
  // process, and the exec'd process ran on with nothing to wait for it (helper-131).
  const signals = o.detach ? undefined : holdSignals()
  const child = spawn(launcherPath(), args, { stdio: [...stdio] })
  closeSync(init)
  // As itself, from the launcher's parent: libuv's child starts with nothing blocked. Detached,
  // the launcher passes on its own seven while it starts the process.
  const kill = (sig: NodeJS.Signals) => child.kill(sig)
  if (signals) signals.to(child.pid, false, kill)
  else for (const sig of LAUNCHER_OWN) process.on(sig, kill)
  process.on('SIGWINCH', () => child.kill('SIGWINCH'))
  try {
    return await new Promise<number>((done, reject) => {
      child.on('error', (e) =>
        reject(new CordonError('setup_failed', `cannot run the launcher: ${e.message}`)),
      )
      child.on('exit', (c, s) => done(c ?? 128 + (s ? (osSignals[s] ?? 15) : 0)))
    }).then((code) => {
      if (o.detach && code === 0 && !isAlive(rec))
        throw new CordonError('setup_failed', `container "${o.id}" ended while the exec started`)
      if (o.detach && code !== 0)
        throw new CordonError(
          'setup_failed',
          'the process could not be started (the launcher said why above)',
        )
      return code
    })
  } finally {
    signals?.end()
    rmSync(planPath, { force: true })
  }
}
