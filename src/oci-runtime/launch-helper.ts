// The launch helper of the C entry point (native/oci-launch.h): for `create`, bin/cordon-oci
// forks a small C process before it execs Node, and that process runs the launcher, then writes
// the container's sysctls, when asked: this Node then never loads node:child_process for them
// (child-process.ts). The protocol is in oci-launch.h; the launcher gets what spawnSync would
// give it: this process's environment, working directory, fds 0-2 and the preserved ones, and
// the umask create set.
import { closeSync, fstatSync, readSync, writeSync } from 'node:fs'
import { constants } from 'node:os'
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
/** native/oci-hook.h enum oci_hook_outcome. */
const HOOK_EXITED = 1
const HOOK_SIGNALED = 2
const HOOK_TIMED_OUT = 3
const SYSCTL_OWN_NAMESPACE = -1

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
  const head = Buffer.alloc(12)
  head.writeUInt32LE(8 + body.length, 0)
  head.writeUInt32LE(kind, 4)
  head.writeUInt32LE(word, 8)
  const data = Buffer.concat([head, body])
  for (let at = 0; at < data.length;) at += writeSync(fd, data, at)
  const answer = readFull(fd, 8)
  return answer && [answer.readInt32LE(0), answer.readInt32LE(4)]
}

/** n bytes from the helper, or undefined when it ended first. */
function readFull(fd: number, n: number): Buffer | undefined {
  const data = Buffer.alloc(n)
  for (let at = 0; at < n;) {
    const got = readSync(fd, data, at, n - at, null)
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
  if (!answer) return { status: null, error: new Error(`spawnSync ${path}: the launch helper ended`) }
  return launchResult(path, answer[0], answer[1])
}

function launchResult(path: string, kind: number, value: number): { status: number | null; error?: Error } {
  if (kind === EXITED) return { status: value }
  if (kind === SIGNALED) return { status: null }
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
): { status: number | null; error?: Error; hookError?: Error } {
  const list = [
    ...hooks.prestart.map((h) => ['prestart', h] as const),
    ...hooks.createRuntime.map((h) => ['createRuntime', h] as const),
  ]
  const strings = [
    String(hookFd),
    String(args.length + 1),
    path,
    ...args,
    JSON.stringify(hooks.states.prestart),
    JSON.stringify(hooks.states.createRuntime),
    ...list.flatMap(([kind, h]) => [
      kind,
      h.path,
      String(h.timeout ?? 0),
      String(h.args?.length ?? 0),
      ...(h.args ?? []),
      String(h.env?.length ?? 0),
      ...(h.env ?? []),
    ]),
  ]
  const answer = request(fd, REQ_LAUNCH_HOOKED, umask, strings)
  if (!answer) return { status: null, error: new Error(`spawn ${path}: the launch helper ended`) }
  const [kind, value] = answer
  if (kind !== HOOK_FAILED) return launchResult(path, kind, value)
  const more = readFull(fd, 12)
  const stderr = more && readFull(fd, more.readUInt32LE(8))
  const entry = list[value]
  if (!more || !stderr || !entry)
    return { status: null, error: new Error(`spawn ${path}: the launch helper ended`) }
  const [hookKind, h] = entry
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
  const index = hookKind === 'prestart' ? value : value - hooks.prestart.length
  return { status: null, hookError: hookFailed(hookKind, index, h.path, how, stderr.toString()) }
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
