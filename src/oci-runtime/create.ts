// `create` and `run`: config.json → plan → a detached launcher whose container waits on
// exec.fifo (native/oci.h) until `start`; `run` in the foreground: run-foreground.ts.
import type { ChildProcess } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { CordonError } from '../errors.js'
import { encodePlan } from '../plan/encode.js'
import { rememberMade, removeCgroups } from './cgroup-made.js'
import { applyResources, containerCgroups, type Hierarchy } from './cgroups.js'
import { childProcess } from './child-process.js'
import {
  launchHookedThrough,
  launchThrough,
  releaseLaunchHelper,
  type RuntimeHooks,
  takeLaunchHelper,
  writeSysctlsThrough,
} from './launch-helper.js'
import { nsenterSysctls, sysctlFailed, type SysctlWrite } from './sysctl.js'
import { hookState, runHooks } from './hooks.js'
import { invalid, type OciConfig, unsupported } from './spec.js'
import { MONITOR_ANNOTATION, monitorWanted } from './monitor-annotation.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import type { ViewMount } from './mounts.js'
import { POLICY_ANNOTATION } from './policy-dir.js'
import { type ContainerRecord, containerDir, ensureRoot, OCI_VERSION, procStat, saveRecord } from './state.js'
import { saveExecContext } from './exec-context.js'
import { saveCeilings } from './update.js'
import { translateConfig } from './translate.js'
import { seccompFilter } from './seccomp.js'
import { isoTime } from '../host/iso-time.js'

export interface CreateOptions {
  root: string
  id: string
  bundle: string
  pidFile?: string
  consoleSocket?: string
  preserveFds: number
  /** Warnings for the runtime's --log (what the container gets differently from runc). */
  warn?: (msg: string) => void
}

export const osSignals = constants.signals as Record<string, number>

export const launcherPath = (): string =>
  process.env.CORDON_LAUNCHER ?? fileURLToPath(new URL('../../native/cordon-exec', import.meta.url))

/** The pid file, written whole (a temporary beside it, renamed: as runc's write, no `mv`), never
 * through a link planted at the temporary's name: O_EXCL | O_NOFOLLOW, and a leftover removed
 * (unlink does not follow it) before one retry. */
export function writePidFile(path: string, pid: number): void {
  const tmp = `${path}.tmp`
  const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW
  let fd: number
  try {
    fd = openSync(tmp, flags, 0o644)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    unlinkSync(tmp)
    fd = openSync(tmp, flags, 0o644)
  }
  try {
    writeSync(fd, String(pid))
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

function readConfig(bundle: string): OciConfig {
  let text: string
  try {
    text = readFileSync(`${bundle}/config.json`, 'utf8')
  } catch {
    throw new CordonError('not_found', `no config.json in bundle ${bundle}: give the bundle with --bundle`)
  }
  let config: OciConfig
  try {
    config = JSON.parse(text) as OciConfig
  } catch (e) {
    throw invalid('', 'JSON', (e as Error).message)
  }
  // A lone surrogate (`"\udcff"`) is a path byte that is not UTF-8 (host/path-bytes.ts), which a
  // string path turns into U+FFFD: another file. Engines write UTF-8; such a config is refused.
  // (JSON.stringify writes only lone surrogates as \u escapes.)
  if (/\\ud[89a-f][0-9a-f]{2}/i.test(JSON.stringify(config)))
    throw invalid('', 'UTF-8 text', 'a string holds a lone surrogate (a path byte that is not UTF-8)')
  return config
}

/** The runtime's own org.cordon.* annotations (CORDON_OCI_ANNOTATIONS, a JSON object, in the
 * environment of whoever installs the runtime: a daemon.json runtime, a RuntimeClass handler's
 * wrapper). They win over the container's, which its author chooses: an admin's monitor cannot
 * be turned off by a pod. Engines that pass no annotations (Docker's API before 1.43) get the
 * layers this way. */
function runtimeAnnotations(): Record<string, string> {
  const text = process.env.CORDON_OCI_ANNOTATIONS
  if (!text) return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = undefined
  }
  const ok =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.entries(value).every(([k, v]) => k.startsWith('org.cordon.') && typeof v === 'string')
  if (!ok)
    throw new CordonError(
      'invalid_usage',
      `CORDON_OCI_ANNOTATIONS: expected a JSON object of org.cordon.* annotations with string values, like {"org.cordon.monitor":"on"}, got ${text}`,
    )
  return value as Record<string, string>
}

export interface Prepared {
  root: string
  dir: string
  rec: ContainerRecord
  config: OciConfig
  planPath: string
  sysctl: SysctlWrite[]
  oomScoreAdj: number | undefined
  umask: number
  /** monitor.ts's startSupervisor, loaded only for a monitored container (it loads
   * node:child_process). */
  supervise: ((root: string, rec: ContainerRecord) => void) | undefined
}

/** prepare()'s cgroup side: cgroups.ts on the host's hierarchies, or for the build's rehearsal
 * (rehearseCreate) on a scratch copy of them, where no group is made. */
interface CgroupSide {
  containerCgroups: typeof containerCgroups
  rememberMade: typeof rememberMade
  applyResources: typeof applyResources
  removeCgroups: typeof removeCgroups
}
const HOST_CGROUPS: CgroupSide = { containerCgroups, rememberMade, applyResources, removeCgroups }

export async function prepare(o: CreateOptions, cgroups = HOST_CGROUPS): Promise<Prepared> {
  const bundle = resolve(o.bundle)
  const config = readConfig(bundle)
  config.annotations = { ...config.annotations, ...runtimeAnnotations() }
  ensureRoot(o.root)
  const dir = containerDir(o.root, o.id)
  if (existsSync(dir)) throw new CordonError('invalid_usage', `container "${o.id}" already exists`)
  // The policy compiler loads only for a container that names a policy (start-up: engines run
  // create once per container); in the bundle the seccomp compiler too (plan/lazy-filter.ts).
  const pm = config.annotations?.[POLICY_ANNOTATION] !== undefined ? await import('./policy.js') : undefined
  const policy: ResolvedPolicy | undefined = pm?.annotatedPolicy(
    config,
    resolve(bundle, config.root?.path ?? 'rootfs'),
  )
  if (policy) await (await import('../plan/lazy-filter.js')).loadFilterCompiler()
  const mergeLimits = pm?.mergeLimits
  const monitor = monitorWanted(config.annotations)
  const supervise = monitor ? (await import('./monitor.js')).startSupervisor : undefined
  const resources =
    policy && mergeLimits ? mergeLimits(config.linux?.resources, policy) : config.linux?.resources
  const cg = cgroups.containerCgroups(config.linux?.cgroupsPath, o.id, resources)
  cgroups.rememberMade(o.root, cg.made)
  mkdirSync(dir, { mode: 0o700 })
  try {
    if (monitor && !cg.freezer)
      throw unsupported(
        `annotations["${MONITOR_ANNOTATION}"]`,
        'the monitor freezes through the container cgroup, and this one has none (a plain user without a delegated cgroup)',
      )
    const deviceFilter = cgroups.applyResources(cg, resources, true, o.warn)
    const seccomp = await seccompFilter(config, o.root)
    const stateBase = { ociVersion: OCI_VERSION, id: o.id, bundle, annotations: config.annotations ?? {} }
    const t = translateConfig(config, {
      hookStates: {
        createContainer: hookState(stateBase, 'creating'),
        startContainer: hookState(stateBase, 'created'),
      },
      ...(policy && pm
        ? {
            policy: {
              landlock: (mounts: ViewMount[], notes: string[]) =>
                pm.policyLandlockOps(policy, config, mounts, notes),
              seccomp: (notes: string[]) => pm.policySeccompOps(policy, config, notes),
            },
          }
        : {}),
      ...(seccomp ? { seccomp } : {}),
      bundle,
      cgroups: cg.view,
      cgroupDirs: cg.dirs,
      ...(deviceFilter ? { deviceFilter } : {}),
      preserveFds: o.preserveFds,
      ...(o.consoleSocket ? { consoleSocket: o.consoleSocket } : {}),
    })
    for (const w of t.warnings) o.warn?.(w)
    const planPath = `${dir}/plan.bin`
    writeFileSync(planPath, encodePlan(t.plan), { mode: 0o600 })
    saveExecContext(dir, config, cg.view)
    if (policy) saveCeilings(dir, policy.limits)
    const rec: ContainerRecord = {
      id: o.id,
      pid: 0,
      startTime: '',
      bundle,
      rootfs: t.rootfs,
      created: isoTime(),
      owner: '',
      annotations: config.annotations ?? {},
      cgroupDirs: cg.dirs,
      freezer: cg.freezer,
      hooks: { poststart: config.hooks?.poststart ?? [], poststop: config.hooks?.poststop ?? [] },
    }
    return {
      root: o.root,
      dir,
      rec,
      config,
      planPath,
      sysctl: t.sysctl,
      oomScoreAdj: t.oomScoreAdj,
      umask: t.umask,
      supervise,
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    cgroups.removeCgroups(o.root, cg.dirs)
    throw e
  }
}

function fail(p: Prepared, pid: number, e: unknown): never {
  if (pid > 0)
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  rmSync(p.dir, { recursive: true, force: true })
  removeCgroups(p.root, p.rec.cgroupDirs)
  throw e
}

/** Sysctls are per namespace: written from inside the container's, never the host's (sysctl.ts),
 * through the C entry point's helper when there is one. */
function applySysctls(pid: number, startTime: string, p: Prepared, helper: number | undefined): void {
  if (!p.sysctl.length) return
  if (helper === undefined) return nsenterSysctls(pid, p.sysctl)
  const failed = writeSysctlsThrough(helper, pid, startTime, p.sysctl)
  if (failed) throw sysctlFailed(failed.write, failed.reason)
}

/** Records the container; in the foreground (`run`) a command may already have ended. */
export function finishCreate(
  o: CreateOptions,
  p: Prepared,
  pid: number,
  foreground = false,
  helper: number | undefined = undefined,
): void {
  try {
    const st = procStat(pid)
    if (!st && !foreground) throw new CordonError('setup_failed', 'the container exited during create')
    p.rec.pid = pid
    p.rec.startTime = st?.startTime ?? ''
    if (!st) {
      saveRecord(o.root, p.rec)
      return
    }
    if (p.oomScoreAdj !== undefined) writeFileSync(`/proc/${pid}/oom_score_adj`, String(p.oomScoreAdj))
    applySysctls(pid, st.startTime, p, helper)
    saveRecord(o.root, p.rec)
    p.supervise?.(o.root, p.rec)
    if (o.pidFile) writePidFile(o.pidFile, pid)
  } catch (e) {
    fail(p, pid, e)
  }
}

/** The fd the launcher reports the container's pid on for prestart and createRuntime hooks
 * (native/hook.h), above the preserved ones; undefined without such hooks. */
export function hookFd(p: Prepared, o: CreateOptions): number | undefined {
  const h = p.config.hooks
  return h?.prestart?.length || h?.createRuntime?.length ? 3 + o.preserveFds : undefined
}

/** The prestart and createRuntime hooks and their states (relayHooks adds the pid). */
export function runtimeHooks(p: Prepared): RuntimeHooks {
  const base = { ociVersion: OCI_VERSION, id: p.rec.id, bundle: p.rec.bundle, annotations: p.rec.annotations }
  return {
    prestart: p.config.hooks?.prestart ?? [],
    createRuntime: p.config.hooks?.createRuntime ?? [],
    states: { prestart: hookState(base, 'created'), createRuntime: hookState(base, 'creating') },
  }
}

/** Runs the prestart and createRuntime hooks in cordon-oci's namespaces when the launcher
 * reports the container's pid on its hook fd (its view built, before pivot_root), then lets it
 * go on; a failing hook closes the fd, and the launcher kills the container. prestart hooks get
 * status "created" (what runtime-tools' hooks_stdin expects), createRuntime ones "creating"
 * (runc's, and the spec's state at that step). */
export function relayHooks(child: ChildProcess, fd: number, p: Prepared): { error: unknown } {
  const out = { error: undefined as unknown }
  const sock = child.stdio[fd] as (Readable & Writable) | null
  if (!sock) throw new CordonError('setup_failed', "cannot open the launcher's hook socket")
  let line = ''
  sock.on('error', () => {})
  sock.on('data', (d: Buffer) => {
    line += d.toString()
    if (!line.includes('\n')) return
    const pid = Number(line.slice(0, line.indexOf('\n')))
    const h = runtimeHooks(p)
    try {
      runHooks('prestart', h.prestart, { ...h.states.prestart, pid })
      runHooks('createRuntime', h.createRuntime, { ...h.states.createRuntime, pid })
      sock.end('c')
    } catch (e) {
      out.error = e
      sock.destroy()
    }
  })
  return out
}

export function launcherArgs(p: Prepared, detach: boolean, o: CreateOptions): string[] {
  const size = p.config.process?.consoleSize
  const fd = hookFd(p, o)
  return [
    ...(fd !== undefined ? ['--hook-fd', String(fd)] : []),
    // In the foreground (`run`) this process passes its signals on (run-foreground.ts), and the
    // launcher, which gets a job-wide one directly too, drops the copy: runc's container, in a
    // session of its own, gets a Ctrl-C once. By this process's pid: behind the launch helper it
    // is not the launcher's parent, and a forward the pending-signal limit refused to queue comes
    // as the plain signal from here.
    ...(detach
      ? ['--detach', '--start-fifo', `${p.dir}/exec.fifo`]
      : ['--forwarded-by', String(process.pid), '--all-signals']),
    ...(o.consoleSocket ? ['--console-socket', resolve(o.consoleSocket)] : []),
    ...(o.consoleSocket && size?.height && size.width
      ? ['--console-size', `${size.height}x${size.width}`]
      : []),
    '--pid-file',
    `${p.dir}/pid`,
    p.planPath,
  ]
}

export const stdio = (n: number, hooks: boolean): ('inherit' | 'pipe' | number)[] => [
  'inherit',
  'inherit',
  'inherit',
  ...Array.from({ length: n }, (_, i) => i + 3),
  ...(hooks ? (['pipe'] as const) : []),
]

export const launcherFailed = (error?: Error) =>
  new CordonError(
    'setup_failed',
    error
      ? `cannot run the launcher: ${error.message}`
      : 'the container could not be created (the launcher said why above)',
  )

export async function create(o: CreateOptions): Promise<void> {
  const helper = { fd: takeLaunchHelper() }
  try {
    await createWith(o, helper)
  } finally {
    releaseLaunchHelper(helper.fd)
  }
}

async function createWith(o: CreateOptions, helper: { fd: number | undefined }): Promise<void> {
  const p = await prepare(o)
  process.umask(p.umask) // the launcher restores it for the container (command.c)
  const fd = hookFd(p, o)
  if (fd === undefined || helper.fd !== undefined) {
    // The synchronous path, as light as it can be (start-up): through the C entry point's
    // helper when there is one, so Node never loads node:child_process; the helper runs the
    // runtime hooks too (Docker gives every container a prestart hook).
    const r =
      helper.fd === undefined
        ? childProcess().spawnSync(launcherPath(), launcherArgs(p, true, o), {
            stdio: stdio(o.preserveFds, false),
          })
        : fd === undefined
          ? launchThrough(helper.fd, launcherPath(), launcherArgs(p, true, o), p.umask)
          : launchHookedThrough(
              helper.fd,
              launcherPath(),
              launcherArgs(p, true, o),
              p.umask,
              fd,
              runtimeHooks(p),
            )
    if ('hookError' in r && r.hookError) fail(p, 0, r.hookError)
    if (r.status !== 0) fail(p, 0, launcherFailed(r.error))
  } else {
    // No helper (Node started directly): Node spawns the launcher and runs the hooks itself;
    // sysctls go by nsenter.
    const child = childProcess().spawn(launcherPath(), launcherArgs(p, true, o), {
      stdio: stdio(o.preserveFds, true),
    })
    const relay = relayHooks(child, fd, p)
    const [code, error] = await new Promise<[number | null, Error | undefined]>((done) => {
      child.on('error', (e) => done([null, e]))
      child.on('exit', (c) => done([c, undefined]))
    })
    if (relay.error) fail(p, 0, relay.error)
    if (code !== 0) fail(p, 0, launcherFailed(error))
  }
  finishCreate(o, p, Number(readFileSync(`${p.dir}/pid`, 'utf8')), false, helper.fd)
}

/** Build step (main.ts warmUp): create's own code on a container in a scratch state root, with
 * no cgroup made and nothing started, so that the bundle's code cache holds what a create runs
 * (warm-up.ts): cgroups.ts on `hierarchies`, a scratch copy of the host's (plain directories
 * holding the files create writes), and the launch helper's requests sent to a scratch file,
 * which answers nothing (a helper that ended). Not finishCreate: its failure path kills the pid. */
export async function rehearseCreate(o: CreateOptions, hierarchies: readonly Hierarchy[]): Promise<void> {
  const p = await prepare(o, {
    ...HOST_CGROUPS,
    containerCgroups: (given, id, resources) => containerCgroups(given, id, resources, hierarchies),
  })
  const startTime = procStat(process.pid)?.startTime ?? ''
  const fd = openSync(`${p.dir}/helper.rehearsal`, 'w+', 0o600)
  try {
    launchThrough(fd, launcherPath(), launcherArgs(p, true, o), p.umask)
    launchHookedThrough(fd, launcherPath(), launcherArgs(p, true, o), p.umask, 3, runtimeHooks(p))
    if (p.sysctl.length) writeSysctlsThrough(fd, process.pid, startTime, p.sysctl)
  } finally {
    closeSync(fd)
  }
  saveRecord(o.root, { ...p.rec, pid: process.pid, startTime })
}
