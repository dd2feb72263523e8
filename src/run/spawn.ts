// spawn()/run(): compile a policy and run a command under it through the launcher, streaming
// its events. The plan goes over fd 3, events come back on fd 4.
import { type ChildProcess, type StdioOptions, spawn as spawnChild } from 'node:child_process'
import { constants } from 'node:os'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { CordonError } from '../errors.js'
import { type CompileContext, callerContext, compilePlan } from '../plan/compile.js'
import { encodePlan } from '../plan/encode.js'
import type { Plan } from '../plan/model.js'
import { validatePolicy } from '../policy/parse.js'
import { type ResolvedPolicy, resolvePolicy } from '../policy/resolve.js'
import type { Policy } from '../policy/schema.js'
import { describeStepError, parseEvent, type SandboxEvent } from './events.js'
import { launcherPath } from './launcher.js'

export interface SpawnOptions {
  /** stdio for the command, as child_process: 'inherit' (default), 'pipe', 'ignore' or a 3-array. */
  stdio?: 'inherit' | 'pipe' | 'ignore' | [StdioOptions, StdioOptions, StdioOptions] | StdioOptions[]
  /** Environment the policy's `env.pass` reads from (default: process.env). */
  env?: NodeJS.ProcessEnv
  /** Overrides for the compile context (cwd, uid, gid). */
  context?: Partial<CompileContext>
}

export interface ExitResult {
  /** The command's status (128+N for signal N); 125 when cordon failed; 126/127 not executable/found. */
  code: number
  signal: NodeJS.Signals | undefined
  /** The failed setup step, when the sandbox could not start. */
  error: Extract<SandboxEvent, { event: 'error' }> | undefined
  durationMs: number
}

export interface SandboxProcess {
  /** Host pid of the launcher. */
  readonly pid: number | undefined
  readonly stdin: Writable | null
  readonly stdout: Readable | null
  readonly stderr: Readable | null
  readonly events: AsyncIterable<SandboxEvent>
  readonly exited: Promise<ExitResult>
  /** Sends a signal to the command (through the launcher and the sandbox's init). */
  kill(signal?: NodeJS.Signals | number): boolean
  readonly child: ChildProcess
}

/** What spawn() accepts as a policy: a Policy object, or an already resolved one, or a compiled Plan. */
export type PolicyInput = Policy | ResolvedPolicy | Plan

function toPlan(input: PolicyInput, ctx: CompileContext): Plan {
  if ('ops' in input && Array.isArray(input.ops)) return input
  if ('sources' in input && Array.isArray((input as ResolvedPolicy).sources))
    return compilePlan(input as ResolvedPolicy, ctx)
  const policy = validatePolicy(input)
  return compilePlan(resolvePolicy({ policy, baseDir: ctx.cwd, label: 'policy' }, ctx.cwd), ctx)
}

/** Starts command under the policy. Throws CordonError for invalid policies. */
export function spawn(
  input: PolicyInput,
  command: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): SandboxProcess {
  const ctx = { ...callerContext(), ...options.context }
  const plan = toPlan(input, ctx)
  const bytes = encodePlan(plan)
  const stdio = options.stdio ?? 'inherit'
  const base: StdioOptions[] = Array.isArray(stdio) ? stdio.slice(0, 3) : [stdio, stdio, stdio]
  const started = performance.now()
  const child = spawnChild(launcherPath(), ['--plan-fd', '3', '--events-fd', '4', '--', command, ...args], {
    stdio: [...base, 'pipe', 'pipe'] as StdioOptions,
    env: options.env ?? process.env,
  })
  const planPipe = child.stdio[3] as Writable
  planPipe.on('error', () => {}) // the launcher may exit before reading all of it; exited reports why
  planPipe.end(bytes)
  const eventStream = child.stdio[4] as Readable

  const buffered: SandboxEvent[] = []
  const waiters: ((r: IteratorResult<SandboxEvent>) => void)[] = []
  let done = false
  let lastError: Extract<SandboxEvent, { event: 'error' }> | undefined
  let exitEvent: Extract<SandboxEvent, { event: 'exit' }> | undefined
  const deliver = (ev: SandboxEvent) => {
    if (ev.event === 'error') lastError ??= ev
    if (ev.event === 'exit') exitEvent = ev
    const w = waiters.shift()
    if (w) w({ value: ev, done: false })
    else buffered.push(ev)
  }
  const lines = createInterface({ input: eventStream, crlfDelay: Number.POSITIVE_INFINITY })
  lines.on('line', (line) => deliver(parseEvent(line)))
  const linesClosed = new Promise<void>((resolve) => lines.once('close', resolve))

  const exited = new Promise<ExitResult>((resolve, reject) => {
    child.once('error', (cause) =>
      reject(new CordonError('setup_failed', `Cannot start the launcher: ${cause.message}`, { cause })),
    )
    child.once('exit', async (code, signal) => {
      await linesClosed
      done = true
      for (const w of waiters.splice(0)) w({ value: undefined, done: true })
      const durationMs = performance.now() - started
      if (exitEvent) resolve({ code: exitEvent.code, signal: exitEvent.signal, error: lastError, durationMs })
      else if (signal) resolve({ code: 128 + signalNumber(signal), signal, error: lastError, durationMs })
      else resolve({ code: code ?? 125, signal: undefined, error: lastError, durationMs })
    })
  })

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
    pid: child.pid,
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    events,
    exited,
    kill: (signal = 'SIGTERM') => child.kill(signal),
    child,
  }
}

export interface RunResult extends ExitResult {
  stdout: string
  stderr: string
  events: SandboxEvent[]
}

/** Runs command to completion with piped output (stdin closed); collects output and events. */
export async function run(
  input: PolicyInput,
  command: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): Promise<RunResult> {
  const p = spawn(input, command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  p.stdout?.on('data', (b: Buffer) => out.push(b))
  p.stderr?.on('data', (b: Buffer) => err.push(b))
  const events: SandboxEvent[] = []
  const collecting = (async () => {
    for await (const ev of p.events) events.push(ev)
  })()
  const result = await p.exited
  await collecting
  return { ...result, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), events }
}

export { describeStepError }

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0
}
