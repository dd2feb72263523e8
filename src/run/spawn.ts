// spawn()/run(): compile a policy and run a command under it through the launcher, streaming
// its events. The plan goes over fd 3, events come back on fd 4.
import { type ChildProcess, type StdioOptions, spawn as spawnChild } from 'node:child_process'
import { chmodSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { constants } from 'node:os'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { CordonError } from '../errors.js'
import { type CompileContext, callerContext, compilePlan } from '../plan/compile.js'
import { encodePlan } from '../plan/encode.js'
import type { Plan, PlanOp } from '../plan/model.js'
import { hasEscapedBytes, rawEnvValue } from '../host/path-bytes.js'
import type { Cgroup, Events, Stats } from '../cgroup/driver.js'
import type { CgroupAccess } from '../cgroup/select.js'
import { validatePolicy } from '../policy/parse.js'
import { type ResolvedPolicy, resolvePolicy } from '../policy/resolve.js'
import type { Policy } from '../policy/schema.js'
import { parseEvent, type SandboxEvent } from './events.js'
import { SPAWN_SYSCALLS } from '../seccomp/notify.js'
import { launcherPath } from './launcher.js'
import { makeCgroup } from './sandbox-cgroup.js'
import { makePrivateTmp, type PrivateTmp } from './private-tmp.js'
import { refuseUnenforced, statementStatus } from '../landlock/status.js'
import { probeKernel } from '../host/probe.js'
import { sandboxStopped, freezeSandbox, killFrozen, thawSandbox } from './process-tree.js'
import { newId, openRegistry, register } from './registry.js'

export interface SpawnOptions {
  /** stdio for the command, as child_process: 'inherit' (default), 'pipe', 'ignore' or a 3-array. */
  stdio?: 'inherit' | 'pipe' | 'ignore' | [StdioOptions, StdioOptions, StdioOptions] | StdioOptions[]
  /** Environment the policy's `env.pass` reads from (default: process.env). */
  env?: NodeJS.ProcessEnv
  /** Overrides for the compile context (cwd, uid, gid). */
  context?: Partial<CompileContext>
  /** With a cgroup: how often to sample it for `stats`, `oom` and `pids-limit` events (ms; 0: never). */
  statsIntervalMs?: number
  /** Syscalls to report as `syscall` events (their outcome unchanged): what monitor rules watch. */
  watch?: readonly string[]
  /** Report every exec and exit of the sandbox's processes as `process` events. */
  processEvents?: boolean
  /** Give the sandbox a cgroup even without limits, when the host allows, so it can be frozen. */
  cgroup?: boolean
  /** Which cgroup hierarchy, instead of cordon's choice (v2 when it holds the controllers). */
  cgroupVersion?: 1 | 2
  /** Stream the events on a unix socket in the state directory for `cordon monitor`. */
  publish?: boolean
}

export type ExitReason = 'exited' | 'signal' | 'oom' | 'pids' | 'timeout' | 'setup'

export interface ExitResult {
  /** The command's status (128+N for signal N); 125 when cordon failed; 126/127 not executable/found. */
  code: number
  signal: NodeJS.Signals | undefined
  /** Why it ended: exited, signal, oom (memory limit), pids (limit hit), timeout, setup (cordon failed). */
  reason: ExitReason
  /** Usage from the sandbox's cgroup, when it had one. */
  stats?: Stats
  /** OOM kills and refused forks counted by the sandbox's cgroup, when it had one. */
  counters?: Events
  /** The failed setup step, when the sandbox could not start. */
  error: Extract<SandboxEvent, { event: 'error' }> | undefined
  durationMs: number
}

export interface SandboxProcess {
  /** The sandbox's id in the registry (`cordon ps`, `cordon freeze ID`). */
  readonly id: string
  /** Host pid of the launcher. */
  readonly pid: number | undefined
  readonly stdin: Writable | null
  readonly stdout: Readable | null
  readonly stderr: Readable | null
  readonly events: AsyncIterable<SandboxEvent>
  readonly exited: Promise<ExitResult>
  /** Sends a signal to the command (through the launcher and the sandbox's init). A frozen
   * sandbox cannot act on a signal (it would wait, frozen, for good), so it is killed through
   * its group instead: a frozen sandbox is one the monitor or its owner stopped for a reason,
   * and is not resumed to run its handlers. */
  kill(signal?: NodeJS.Signals | number): boolean
  /** The sandbox's cgroup when it has limits: freeze(), thaw(), stats(), events(). */
  readonly cgroup: Cgroup | undefined
  /** Whether this caller could have a cgroup, as decided for this run (when it has limits or
   * asked for one): what its limit statements are judged against. */
  readonly cgroupAccess: CgroupAccess | undefined
  /** Stops every process of the sandbox (cgroup freezer, else SIGSTOP to each); returns which. */
  freeze(): string
  thaw(): void
  readonly child: ChildProcess
}

/** What spawn() accepts as a policy: a Policy object, or an already resolved one, or a compiled Plan. */
export type PolicyInput = Policy | ResolvedPolicy | Plan

interface Compiled {
  plan: Plan
  limits: ResolvedPolicy['limits']
  requireLimits: boolean
  privateTmp?: PrivateTmp
}

function toPlan(input: PolicyInput, ctx: CompileContext): Compiled {
  if ('ops' in input && Array.isArray(input.ops)) return { plan: input, limits: {}, requireLimits: false }
  const resolved =
    'sources' in input && Array.isArray((input as ResolvedPolicy).sources)
      ? (input as ResolvedPolicy)
      : resolvePolicy({ policy: validatePolicy(input), baseDir: ctx.cwd, label: 'policy' }, ctx.cwd)
  const tmp =
    !resolved.namespaces.mount && resolved.filesystem.some((e) => e.kind === 'tmpfs')
      ? makePrivateTmp()
      : undefined
  try {
    const plan = compilePlan(resolved, tmp ? { ...ctx, privateTmp: tmp.path } : ctx)
    refuseGaps(resolved, ctx.uid)
    const ids = plan.ops.find((o) => o.op === 'ids')
    if (tmp && ids?.op === 'ids') tmp.handOver(ids.uid, ids.gid)
    return {
      plan,
      limits: resolved.limits,
      requireLimits: resolved.requireLimits,
      ...(tmp ? { privateTmp: tmp } : {}),
    }
  } catch (e) {
    tmp?.remove()
    throw e
  }
}

let landlockAbi: number | undefined
/** A statement can go unenforced only where a namespace is off (the mount view backs every
 * filesystem statement): only then is the kernel asked for its Landlock ABI, once per process. */
function refuseGaps(policy: ResolvedPolicy, uid: number): void {
  const ns = policy.namespaces
  if (ns.mount && ns.pid && ns.net) return
  landlockAbi ??= probeKernel().landlock.abi
  // Limits never refuse a run here (makeCgroup and limits.require do): any cgroup answer will do.
  refuseUnenforced(
    policy,
    statementStatus(policy, landlockAbi, undefined, { uid, cgroup: { ok: true, why: '' } }),
  )
}

/** The plan with the command line as exec_arg ops (when argv is given) and, for variables the
 * policy passes whose value in this process's environment is not UTF-8, their exact value. */
function carryRawBytes(plan: Plan, argv: readonly string[] | undefined, env: SpawnOptions['env']): Plan {
  const raw: PlanOp[] = []
  if (env === undefined)
    for (const op of plan.ops)
      if (op.op === 'env_pass') {
        const value = rawEnvValue(op.name)
        if (value !== undefined) raw.push({ op: 'env_set', name: op.name, value })
      }
  if (!argv && !raw.length) return plan
  const ops = argv ? plan.ops.filter((op) => op.op !== 'exec_arg') : [...plan.ops]
  // After the last env or argv op: the launcher takes a later variable over an earlier one.
  let at = ops.findLastIndex((op) => op.op === 'env_set' || op.op === 'env_pass' || op.op === 'exec_arg')
  if (at < 0) at = ops.findIndex((op) => op.op === 'die_with_parent')
  ops.splice(at + 1, 0, ...raw, ...(argv ?? []).map((arg): PlanOp => ({ op: 'exec_arg', arg })))
  return { ...plan, ops }
}

function reasonFor(
  code: number,
  signal: NodeJS.Signals | undefined,
  timedOut: boolean,
  events: Events | undefined,
  error: unknown,
): ExitReason {
  if (timedOut) return 'timeout'
  // A limit is the reason only when it is what ended the command: a shell whose child was
  // OOM-killed, or which got a refused fork, and then exited on its own simply exited.
  if (events?.oomKills && signal === 'SIGKILL') return 'oom'
  if (events?.pidsMax && (signal || code !== 0)) return 'pids'
  if (signal) return 'signal'
  return code === 125 && error ? 'setup' : 'exited'
}

/** Starts command under the policy. Throws CordonError for invalid policies. */
export function spawn(
  input: PolicyInput,
  command: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): SandboxProcess {
  const ctx = { ...callerContext(), ...options.context, ...(options.watch ? { watch: options.watch } : {}) }
  // Bytes that are not UTF-8 cannot cross child_process (it encodes strings as UTF-8): such a
  // command line travels in the plan, and so do such values of passed variables.
  const argvInPlan = [command, ...args].some(hasEscapedBytes)
  const compiled = toPlan(input, ctx)
  compiled.plan = carryRawBytes(compiled.plan, argvInPlan ? [command, ...args] : undefined, options.env)
  let made: ReturnType<typeof makeCgroup>
  try {
    made = makeCgroup(
      compiled.limits,
      compiled.plan,
      options.cgroup === true,
      compiled.requireLimits,
      options.cgroupVersion,
    )
  } catch (e) {
    compiled.privateTmp?.remove()
    throw e
  }
  const { cgroup, plan, access } = made
  const bytes = encodePlan(plan)
  // Checked before the launcher starts: an unsafe state directory is refused, not used.
  let registry: string | undefined
  try {
    registry = openRegistry()
  } catch (e) {
    cgroup?.remove()
    compiled.privateTmp?.remove()
    throw e
  }
  const stdio = options.stdio ?? 'inherit'
  const base: StdioOptions[] = Array.isArray(stdio) ? stdio.slice(0, 3) : [stdio, stdio, stdio]
  const started = performance.now()
  let child: ChildProcess
  try {
    // Watching a call that makes processes is served by process events: such calls are never
    // stopped (seccomp/notify.ts SPAWN_SYSCALLS).
    const processEvents = options.processEvents || options.watch?.some((n) => SPAWN_SYSCALLS.includes(n))
    const flags = ['--plan-fd', '3', '--events-fd', '4', ...(processEvents ? ['--proc-events'] : [])]
    child = spawnChild(launcherPath(), argvInPlan ? flags : [...flags, '--', command, ...args], {
      stdio: [...base, 'pipe', 'pipe'] as StdioOptions,
      env: options.env ?? process.env,
    })
  } catch (e) {
    cgroup?.remove()
    compiled.privateTmp?.remove()
    throw e
  }
  const id = newId()
  const publisher =
    options.publish && registry && child.pid ? publish(join(registry, `${id}.sock`)) : undefined
  const unregister = child.pid
    ? register(registry, {
        id,
        pid: child.pid,
        command: [command, ...args],
        startedAt: new Date().toISOString(),
        ...(cgroup ? { cgroup: cgroup.ref(), limits: { ...compiled.limits } } : {}),
        ...(publisher ? { events: publisher.path } : {}),
        ...(options.watch?.length ? { watch: [...options.watch] } : {}),
      })
    : () => {}
  let timedOut = false
  const timer =
    compiled.limits.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true
          // The whole group, grandchildren included; without a cgroup the launcher's death takes
          // the sandbox with it (PDEATHSIG, and pid 1 of its namespace).
          if (cgroup) cgroup.killAll()
          child.kill('SIGKILL')
        }, compiled.limits.timeoutMs)
      : undefined
  const planPipe = child.stdio[3] as Writable
  planPipe.on('error', () => {}) // the launcher may exit before reading all of it; exited reports why
  planPipe.end(bytes)
  const eventStream = child.stdio[4] as Readable

  const buffered: SandboxEvent[] = []
  const waiters: ((r: IteratorResult<SandboxEvent>) => void)[] = []
  let done = false
  let lastError: Extract<SandboxEvent, { event: 'error' }> | undefined
  let exitEvent: Extract<SandboxEvent, { event: 'exit' }> | undefined
  const deliver = (ev: SandboxEvent, line?: string) => {
    publisher?.send(line ?? JSON.stringify(ev), ev.event === 'started')
    if (ev.event === 'error') lastError ??= ev
    if (ev.event === 'exit') exitEvent = ev
    const w = waiters.shift()
    if (w) w({ value: ev, done: false })
    else buffered.push(ev)
  }
  // With a cgroup, sample it: usage as `stats`, and OOM kills or refused forks as they happen.
  const interval = options.statsIntervalMs ?? 500
  let seen = { oomKills: 0, pidsMax: 0 }
  const sampler =
    cgroup && interval > 0
      ? setInterval(() => {
          try {
            const now = cgroup.events()
            if (now.oomKills > seen.oomKills) deliver({ event: 'oom', kills: now.oomKills })
            if (now.pidsMax > seen.pidsMax) deliver({ event: 'pids-limit', refused: now.pidsMax })
            seen = now
            const { memoryBytes, pids, cpuUsageUsec } = cgroup.stats()
            deliver({ event: 'stats', memoryBytes, pids, cpuUsageUsec })
          } catch {}
        }, interval)
      : undefined
  sampler?.unref()
  const lines = createInterface({ input: eventStream, crlfDelay: Number.POSITIVE_INFINITY })
  lines.on('line', (line) => deliver(parseEvent(line), line))
  const linesClosed = new Promise<void>((resolve) => lines.once('close', resolve))

  const exited = new Promise<ExitResult>((resolve, reject) => {
    child.once('error', (cause) =>
      reject(new CordonError('setup_failed', `Cannot start the launcher: ${cause.message}`, { cause })),
    )
    child.once('exit', async (code, signal) => {
      if (timer) clearTimeout(timer)
      if (sampler) clearInterval(sampler)
      await linesClosed
      done = true
      for (const w of waiters.splice(0)) w({ value: undefined, done: true })
      const durationMs = performance.now() - started
      const events = cgroup?.events()
      const stats = cgroup?.stats()
      cgroup?.remove()
      compiled.privateTmp?.remove()
      unregister()
      publisher?.close()
      const out = exitEvent
        ? { code: exitEvent.code, signal: exitEvent.signal }
        : signal
          ? { code: 128 + signalNumber(signal), signal }
          : { code: code ?? 125, signal: undefined }
      resolve({
        ...out,
        reason: reasonFor(out.code, out.signal, timedOut, events, lastError),
        ...(stats ? { stats } : {}),
        ...(events ? { counters: events } : {}),
        error: lastError,
        durationMs,
      })
    })
  })

  /** Whether the sandbox is frozen now; false once it has ended (its group is gone). */
  const isFrozen = () => {
    if (done) return false
    try {
      return cgroup ? cgroup.frozen() : sandboxStopped(child.pid)
    } catch {
      return false
    }
  }
  const events: AsyncIterable<SandboxEvent> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        const ev = buffered.shift()
        if (ev) return Promise.resolve({ value: ev, done: false })
        if (done) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => waiters.push(resolve))
      },
    }),
  }

  return {
    id,
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    events,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (isFrozen()) {
        killFrozen(cgroup, child.pid)
        return child.kill('SIGKILL')
      }
      return child.kill(signal)
    },
    cgroup,
    cgroupAccess: access,
    freeze: () => freezeSandbox(cgroup, child.pid) ?? 'SIGSTOP (no cgroup)',
    thaw: () => thawSandbox(cgroup, child.pid),
    child,
  }
}

const MAX_CLIENT_BACKLOG = 1 << 20

/** Serves the event lines to every client of a unix socket; a client that reads too slowly
 * misses lines rather than holding memory or the sandbox back. Node cannot read a client's
 * SO_PEERCRED, so the peer check is the filesystem's: the socket is made 0600 in the caller's
 * 0700 state directory (registry.ts openRegistry), where only the caller and root can reach it. */
function publish(
  path: string,
): { path: string; send(line: string, replay?: boolean): void; close(): void } | undefined {
  const clients = new Set<Socket>()
  // Lines a client that connects later must still see, so that it judges events as one that
  // was there from the start does: `started` (execs before it are the launcher's own).
  const replayed: string[] = []
  const server = createServer((socket) => {
    for (const line of replayed) socket.write(`${line}\n`)
    clients.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => clients.delete(socket))
    socket.resume() // clients do not talk; ignore what they send
  })
  try {
    rmSync(path, { force: true })
  } catch {
    return undefined
  }
  server.on('error', () => {})
  server.listen({ path, readableAll: false, writableAll: false }, () => {
    try {
      chmodSync(path, 0o600)
    } catch {}
  })
  server.unref()
  return {
    path,
    send(line, replay = false) {
      if (replay) replayed.push(line)
      for (const c of clients) if (c.writableLength < MAX_CLIENT_BACKLOG) c.write(`${line}\n`)
    },
    close() {
      for (const c of clients) c.end()
      server.close()
      rmSync(path, { force: true })
    },
  }
}

export interface RunResult extends ExitResult {
  stdout: string
  stderr: string
  events: SandboxEvent[]
}

/** run()'s bound on what it collects, per stream (stdout, stderr, events as JSON): 64 MiB. */
export const DEFAULT_MAX_BUFFER = 64 * 2 ** 20

export interface RunOptions extends SpawnOptions {
  /** Bytes run() collects per stream (stdout, stderr, and the events as JSON lines) before it
   * kills the sandbox and rejects with CordonError `max_buffer` (default DEFAULT_MAX_BUFFER).
   * The sandbox's own limits bound its memory, not what it prints into cordon's. */
  maxBuffer?: number
}

/**
 * Runs command to completion with piped output (stdin closed); collects output and events.
 * Output beyond `maxBuffer` kills the sandbox (as execa does) and rejects with the fix.
 */
export async function run(
  input: PolicyInput,
  command: string,
  args: readonly string[] = [],
  options: RunOptions = {},
): Promise<RunResult> {
  const { maxBuffer = DEFAULT_MAX_BUFFER, ...spawnOptions } = options
  if (!(Number.isSafeInteger(maxBuffer) && maxBuffer > 0))
    throw new CordonError(
      'invalid_usage',
      `run(): expected \`maxBuffer\` to be a positive whole number of bytes, got \`${String(maxBuffer)}\``,
    )
  const p = spawn(input, command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] })
  let over: string | undefined
  const stop = (what: string) => {
    if (over) return
    over = what
    p.cgroup?.killAll()
    p.child.kill('SIGKILL')
    // Read on and discard, so the launcher never blocks on a full pipe while it dies.
    p.stdout?.removeAllListeners('data').resume()
    p.stderr?.removeAllListeners('data').resume()
  }
  const collect = (stream: Readable | null, name: string) => {
    const chunks: Buffer[] = []
    let size = 0
    stream?.on('data', (b: Buffer) => {
      size += b.length
      if (size > maxBuffer) stop(name)
      else chunks.push(b)
    })
    return chunks
  }
  const out = collect(p.stdout, 'stdout')
  const err = collect(p.stderr, 'stderr')
  const events: SandboxEvent[] = []
  const collecting = (async () => {
    let size = 0
    for await (const ev of p.events) {
      if (over) continue
      size += eventSize(ev)
      if (size > maxBuffer) stop('events')
      else events.push(ev)
    }
  })()
  const result = await p.exited
  await collecting
  if (over)
    throw new CordonError(
      'max_buffer',
      `run(): the command wrote more than maxBuffer (${maxBuffer} bytes) to ${over}, so the sandbox was killed; ` +
        'raise the `maxBuffer` option of run(), or use spawn() and read its streams as they come',
      { step: over },
    )
  return { ...result, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), events }
}

/** An event's size for maxBuffer, without serializing it (run() sees 100,000s per second):
 * its strings plus a fixed allowance for the rest (numbers, six 64-bit arguments). */
function eventSize(ev: SandboxEvent): number {
  let size = 256
  for (const v of Object.values(ev)) if (typeof v === 'string') size += v.length
  return size
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0
}
