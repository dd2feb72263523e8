// OCI hooks (runtime-spec config.md, "POSIX-platform Hooks"). Where each runs:
// - prestart, createRuntime: in cordon-oci, in the runtime's namespaces, while the container
//   waits with its view built but before its pivot_root (the launcher's --hook-fd handshake,
//   native/hook.h);
// - createContainer: by the launcher, in the container's namespaces, right after those and
//   before pivot_root, its path resolved in the runtime's filesystem (plan op `hook`);
// - startContainer: by the container's process once `start` released it, with its ids, caps,
//   Landlock and seccomp, right before it executes the user's program (plan op `start_hook`);
// - poststart, poststop: in cordon-oci (lifecycle.ts).
// Each gets the container's state on stdin; a failing prestart, createRuntime, createContainer
// or startContainer hook fails the container, a failing poststart or poststop one is logged.
import { CordonError } from '../errors.js'
import type { PlanOp } from '../plan/model.js'
import { childProcess } from './child-process.js'
import { type HookName, invalid, type OciConfig, type OciHook } from './spec.js'

/** The state on a hook's stdin is at most this (native/plan.c; a pipe holds it). */
const STATE_MAX = 65536

/** Checks every hook's shape, naming the field: the spec's absolute path and positive timeout,
 * NAME=value variables. */
export function validateHooks(config: OciConfig): void {
  for (const [kind, list] of Object.entries(config.hooks ?? {})) {
    if (!Array.isArray(list)) throw invalid(`hooks.${kind}`, 'an array of hooks', list)
    list.forEach((h: OciHook, i) => {
      const field = `hooks.${kind}[${i}]`
      if (typeof h?.path !== 'string' || !h.path.startsWith('/'))
        throw invalid(`${field}.path`, 'an absolute path (the runtime-spec requires one)', h?.path)
      if (h.args !== undefined && (!Array.isArray(h.args) || h.args.some((a) => typeof a !== 'string')))
        throw invalid(`${field}.args`, 'an array of strings', h.args)
      if (
        h.env !== undefined &&
        (!Array.isArray(h.env) || h.env.some((e) => typeof e !== 'string' || e.indexOf('=') <= 0))
      )
        throw invalid(`${field}.env`, 'an array of NAME=value strings', h.env)
      if (h.timeout !== undefined && !(Number.isInteger(h.timeout) && h.timeout > 0))
        throw invalid(`${field}.timeout`, 'a whole number of seconds above 0', h.timeout)
      // execve takes C strings; the launch helper's request separates its strings with NULs,
      // where one inside an argument would shift the rest (and could smuggle in a hook).
      const nul = [
        ['path', h.path] as const,
        ...(h.args ?? []).map((a, k) => [`args[${k}]`, a] as const),
        ...(h.env ?? []).map((e, k) => [`env[${k}]`, e] as const),
      ].find(([, v]) => v.includes('\0'))
      if (nul) throw invalid(`${field}.${nul[0]}`, 'a string without NUL bytes', nul[1])
    })
  }
}

/** The state JSON a hook reads, without its pid (added by whoever knows it). */
export function hookState(
  base: { ociVersion: string; id: string; bundle: string; annotations: Record<string, string> },
  status: string,
): Record<string, unknown> {
  return {
    ociVersion: base.ociVersion,
    id: base.id,
    status,
    bundle: base.bundle,
    ...(Object.keys(base.annotations).length ? { annotations: base.annotations } : {}),
  }
}

/** Plan ops for the createContainer (`hook`) or startContainer (`start_hook`) hooks: the
 * launcher puts the container's pid (in its pid namespace, as runc's init does) first in state. */
export function hookOps(
  kind: 'createContainer' | 'startContainer',
  hooks: readonly OciHook[],
  state: object,
): PlanOp[] {
  const json = JSON.stringify(state)
  if (json.length + 32 > STATE_MAX)
    throw invalid(
      'annotations',
      `annotations that keep the state for the ${kind} hooks under 64 KiB`,
      `${json.length} bytes`,
    )
  const start = kind === 'startContainer'
  const ops: PlanOp[] = []
  hooks.forEach((h, i) => {
    const empty = (h.args ?? []).findIndex((a) => a === '')
    if (empty >= 0)
      throw invalid(
        `hooks.${kind}[${i}].args[${empty}]`,
        'a non-empty argument (the launcher passes no empty ones)',
        '',
      )
    ops.push({
      op: start ? 'start_hook' : 'hook',
      path: h.path,
      timeout: h.timeout ?? 0,
      state: json,
      statePid: true,
    })
    for (const arg of h.args ?? []) ops.push({ op: start ? 'start_hook_arg' : 'hook_arg', arg })
    for (const env of h.env ?? []) ops.push({ op: start ? 'start_hook_env' : 'hook_env', env })
  })
  return ops
}

export function runHooks(kind: HookName, hooks: readonly OciHook[], state: object): void {
  const input = JSON.stringify(state)
  for (const [i, h] of hooks.entries()) {
    const env = Object.fromEntries(
      (h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    )
    const r = childProcess().spawnSync(h.path, (h.args ?? [h.path]).slice(1), {
      argv0: h.args?.[0] ?? h.path,
      input,
      env,
      stdio: ['pipe', 'inherit', 'pipe'],
      // SIGKILL past the timeout, as runc (Go's Process.Kill): a hook may ignore SIGTERM.
      ...(h.timeout ? { timeout: h.timeout * 1000, killSignal: 'SIGKILL' as const } : {}),
    })
    // A hook that exits without reading its state (EPIPE on the write) is not a failure, as
    // under runc (Go's os/exec ignores EPIPE on stdin): its exit status decides.
    const error = (r.error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' ? undefined : r.error
    if (error || r.status !== 0)
      throw hookFailed(
        kind,
        i,
        h.path,
        error ? error.message : `exit status ${r.status ?? r.signal}`,
        r.stderr?.toString() ?? '',
      )
  }
}

/** The error of hooks.KIND[i] at `path` that failed as `how`, quoting its stderr (also for the
 * hooks create's launch helper runs: launch-helper.ts). */
export function hookFailed(
  kind: HookName,
  i: number,
  path: string,
  how: string,
  stderr: string,
): CordonError {
  return new CordonError(
    'setup_failed',
    `hooks.${kind}[${i}] ${path} failed: ${how}` + (stderr.length ? `: ${stderr.trim()}` : ''),
    { step: `hooks.${kind}` },
  )
}
