// The launch helper of the C entry point (native/oci-launch.h): for `create`, bin/cordon-oci
// forks a small C process before it execs Node, and that process runs the launcher, then writes
// the container's sysctls, when asked: this Node then never loads node:child_process for them
// (child-process.ts). The protocol is in oci-launch.h; the launcher gets what spawnSync would
// give it: this process's environment, working directory, fds 0-2 and the preserved ones, and
// the umask create set.
import { closeSync, fstatSync, read, readSync, writeSync } from 'node:fs'
import { constants } from 'node:os'
import { CordonError } from '../errors.js'
import { hookFailed } from './hooks.js'
import type { OciHook } from './spec.js'
import { ownNamespace, type SysctlWrite } from './sysctl.js'

const LAUNCH_FD_ENV = 'CORDON_OCI_LAUNCH_FD'
const REQ_LAUNCH = 0
const REQ_SYSCTL = 1
const REQ_LAUNCH_HOOKED = 2
const EXITED = 0
const SIGNALED = 1
const HOOK_FAILED = 3
const STARTED = 4
/** LAUNCH_REPORT_START: `run`, the launcher's pid first. */
const REPORT_START = 0x10000
/** native/oci-hook.h enum oci_hook_outcome. */
const HOOK_EXITED = 1
const HOOK_SIGNALED = 2
const HOOK_TIMED_OUT = 3
const SYSCTL_OWN_NAMESPACE = -1
/** native/oci-launch.c MAX_REQUEST: the largest request the helper reads. */
const MAX_REQUEST = 16 * 1024 * 1024

/** The helper's socket, taken out of the environment so that no child of this process sees the
 * variable; undefined without a helper (Node started otherwise, or the C entry could not fork
 * one). The fd is not close-on-exec: close it (releaseLaunchHelper) before spawning anything. */
export function takeLaunchHelper(): number | undefined {
  const value = process.env[LAUNCH_FD_ENV]
  delete process.env[LAUNCH_FD_ENV]
  if (value === undefined || !/^[1-9][0-9]{0,6}$/.test(value)) return undefined
  const fd = Number(value)
  try {
    return fstatSync(fd).isSocket() ? fd : undefined
  } catch {
    return undefined
  }
}

/** Lets the helper go (it exits on EOF). */
export function releaseLaunchHelper(fd: number | undefined): void {
  if (fd === undefined) return
  try {
    closeSync(fd)
  } catch {}
}

/** Sends one request (kind, a u32, strings) and reads the two i32 of the answer; undefined when
 * the helper ended without one. */
function request(fd: number, kind: number, word: number, strings: string[]): [number, number] | undefined {
  const body = Buffer.from(strings.map((a) => `${a}\0`).join(''))
  if (8 + body.length > MAX_REQUEST)
    throw new CordonError(
      'invalid_policy',
      `config.json hooks and annotations: the prestart and createRuntime hooks' arguments, environment and state take ${body.length} bytes, more than the ${MAX_REQUEST} the launch helper takes; use fewer or smaller annotations or hook arguments`,
      { step: 'hooks' },
    )
  const head = Buffer.alloc(12)
  head.writeUInt32LE(8 + body.length, 0)
  head.writeUInt32LE(kind, 4)
  head.writeUInt32LE(word, 8)
  const data = Buffer.concat([head, body])
  try {
    for (let at = 0; at < data.length;) at += writeSync(fd, data, at)
  } catch (e) {
    // Ended before it read the request (a job-wide signal at the start: helper-133): the
    // caller's "the launch helper ended", and its clean-up, not an EPIPE thrown past both.
    if (helperGone(e)) return undefined
    throw e
  }
  const answer = readFull(fd, 8)
  return answer && [answer.readInt32LE(0), answer.readInt32LE(4)]
}

const helperGone = (e: unknown): boolean =>
  e instanceof Error && 'code' in e && (e.code === 'EPIPE' || e.code === 'ECONNRESET')

/** n bytes from the helper, or undefined when it ended first. */
function readFull(fd: number, n: number): Buffer | undefined {
  const data = Buffer.alloc(n)
  for (let at = 0; at < n;) {
    let got: number
    try {
      got = readSync(fd, data, at, n - at, null)
    } catch (e) {
      if (helperGone(e)) return undefined
      throw e
    }
    if (got === 0) return undefined
    at += got
  }
  return data
}

const errnoName = (n: number): string =>
  Object.entries(constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`

/** Runs `path args` through the helper and waits for it, as spawnSync: the exit status (null
 * when a signal ended it) or the error that kept it from running. */
export function launchThrough(
  fd: number,
  path: string,
  args: string[],
  umask: number,
): { status: number | null; error?: Error } {
  const answer = request(fd, REQ_LAUNCH, umask, [path, ...args])
  return answer ? launchResult(path, answer[0], answer[1]) : helperEnded(path)
}

function launchResult(path: string, kind: number, value: number): LaunchResult {
  if (kind === EXITED) return { status: value }
  if (kind === SIGNALED) return { status: null, signal: value }
  const code = errnoName(value)
  return { status: null, error: Object.assign(new Error(`spawnSync ${path} ${code}`), { code }) }
}

/** The runtime hooks a hooked launch runs, in order, and the state each kind reads (without
 * its pid, which the helper adds last once the launcher reports it, as relayHooks). */
export interface RuntimeHooks {
  prestart: readonly OciHook[]
  createRuntime: readonly OciHook[]
  states: { prestart: object; createRuntime: object }
}

/** The result of a launch through the helper: spawnSync's status and error, and with hooks,
 * the error of the hook that failed (the launcher then killed the container). */
export interface LaunchResult {
  status: number | null
  /** The signal that ended it (status null). */
  signal?: number
  error?: Error
  hookError?: Error
}

/** A launch request's kind and strings: REQ_LAUNCH's argv, or with `hook` (the launcher's
 * --hook-fd and the hooks) REQ_LAUNCH_HOOKED's (native/oci-launch.h). */
function launchRequest(
  path: string,
  args: string[],
  hook?: { fd: number; hooks: RuntimeHooks },
): { kind: number; strings: string[]; list: (readonly ['prestart' | 'createRuntime', OciHook])[] } {
  if (!hook) return { kind: REQ_LAUNCH, strings: [path, ...args], list: [] }
  const list = [
    ...hook.hooks.prestart.map((h) => ['prestart', h] as const),
    ...hook.hooks.createRuntime.map((h) => ['createRuntime', h] as const),
  ]
  const strings = [
    String(hook.fd),
    String(args.length + 1),
    path,
    ...args,
    JSON.stringify(hook.hooks.states.prestart),
    JSON.stringify(hook.hooks.states.createRuntime),
    ...list.flatMap(([kind, h]) => [
      kind,
      h.path,
      // Seconds as a C unsigned (the spec bounds none; 2^32 - 1 s outlasts any create).
      String(Math.min(h.timeout ?? 0, 0xffffffff)),
      String(h.args?.length ?? 0),
      ...(h.args ?? []),
      String(h.env?.length ?? 0),
      ...(h.env ?? []),
    ]),
  ]
  return { kind: REQ_LAUNCH_HOOKED, strings, list }
}

/** LAUNCH_HOOK_FAILED's hook (index `value` in list), from the 12 bytes after the answer and
 * its stderr: runHooks's error for the same end. */
function hookError(
  list: (readonly ['prestart' | 'createRuntime', OciHook])[],
  value: number,
  more: Buffer,
  stderr: Buffer,
): Error | undefined {
  const entry = list[value]
  if (!entry) return undefined
  const [kind, h] = entry
  const outcome = more.readInt32LE(0)
  const code = more.readInt32LE(4)
  // runHooks's words for the same ends (Node's spawnSync: a signal's name, its error codes).
  const how =
    outcome === HOOK_EXITED
      ? `exit status ${code}`
      : outcome === HOOK_SIGNALED
        ? `exit status ${signalName(code)}`
        : outcome === HOOK_TIMED_OUT
          ? `spawnSync ${h.path} ETIMEDOUT`
          : `spawnSync ${h.path} ${errnoName(code)}`
  const index = kind === 'prestart' ? value : value - list.filter(([k]) => k === 'prestart').length
  return hookFailed(kind, index, h.path, how, stderr.toString())
}

const helperEnded = (path: string): LaunchResult => ({
  status: null,
  error: new Error(`spawnSync ${path}: the launch helper ended`),
})

/** launchThrough for a launcher with --hook-fd hookFd: the helper runs the prestart and
 * createRuntime hooks as runHooks does when the container's pid is known (native/oci-hook.h),
 * and the launcher kills the container when one fails: `hookError` then says which and why. */
export function launchHookedThrough(
  fd: number,
  path: string,
  args: string[],
  umask: number,
  hookFd: number,
  hooks: RuntimeHooks,
): LaunchResult {
  const req = launchRequest(path, args, { fd: hookFd, hooks })
  const answer = request(fd, req.kind, umask, req.strings)
  if (!answer) return helperEnded(path)
  const [kind, value] = answer
  if (kind !== HOOK_FAILED) return launchResult(path, kind, value)
  const more = readFull(fd, 12)
  const stderr = more && readFull(fd, more.readUInt32LE(8))
  const error = more && stderr && hookError(req.list, value, more, stderr)
  return error ? { status: null, hookError: error } : helperEnded(path)
}

/** n bytes from the helper, read off the main thread (the event loop keeps serving signals
 * and timers meanwhile), or undefined when it ended first. */
async function readFullAsync(fd: number, n: number): Promise<Buffer | undefined> {
  const data = Buffer.alloc(n)
  for (let at = 0; at < n;) {
    const got = await new Promise<number>((done, fail) =>
      read(fd, data, at, n - at, null, (e, k) => (e ? fail(e) : done(k))),
    )
    if (got === 0) return undefined
    at += got
  }
  return data
}

/** `run` in the foreground through the helper (with `hook`, its hooks too): the launcher's pid
 * as soon as it runs, for the signals Node forwards (it stays the launcher's until `done`:
 * the helper reaps it only after answering), and its end. */
export function startThrough(
  fd: number,
  path: string,
  args: string[],
  umask: number,
  hook?: { fd: number; hooks: RuntimeHooks },
): { pid: number | undefined; done: Promise<LaunchResult> } {
  const req = launchRequest(path, args, hook)
  const first = request(fd, req.kind, umask | REPORT_START, req.strings)
  if (!first) return { pid: undefined, done: Promise.resolve(helperEnded(path)) }
  if (first[0] !== STARTED) return { pid: undefined, done: Promise.resolve(launchResult(path, ...first)) }
  const done = (async (): Promise<LaunchResult> => {
    const answer = await readFullAsync(fd, 8)
    if (!answer) return helperEnded(path)
    const kind = answer.readInt32LE(0)
    const value = answer.readInt32LE(4)
    if (kind !== HOOK_FAILED) return launchResult(path, kind, value)
    const more = await readFullAsync(fd, 12)
    const stderr = more && (await readFullAsync(fd, more.readUInt32LE(8)))
    const error = more && stderr && hookError(req.list, value, more, stderr)
    return error ? { status: null, hookError: error } : helperEnded(path)
  })().catch((e: unknown) => ({ status: null, error: e instanceof Error ? e : new Error(String(e)) }))
  return { pid: first[1], done }
}

const signalName = (n: number): string =>
  Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`

/** Writes the sysctls through the helper, in the namespaces of pid (still the process of
 * startTime); undefined when all were written, else the failed one and why. */
export function writeSysctlsThrough(
  fd: number,
  pid: number,
  startTime: string,
  writes: readonly SysctlWrite[],
): { write: SysctlWrite; reason: string } | undefined {
  const answer = request(fd, REQ_SYSCTL, pid, [startTime, ...writes.flatMap((w) => [w.ns, w.path, w.value])])
  if (!answer) return { write: writes[0]!, reason: 'the launch helper ended' }
  const [index, err] = answer
  if (index < 0) return undefined
  const write = writes[index] ?? writes[0]!
  return {
    write,
    reason:
      err === SYSCTL_OWN_NAMESPACE
        ? ownNamespace(write.ns)
        : err === constants.errno.ESRCH
          ? 'the container exited'
          : errnoName(err),
  }
}
