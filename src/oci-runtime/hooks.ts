// OCI hooks, run by cordon-oci on the host with the container's state on stdin.
import { spawnSync } from 'node:child_process'
import { CordonError } from '../errors.js'
import type { OciHook } from './spec.js'

export function runHooks(kind: string, hooks: readonly OciHook[], state: object): void {
  const input = JSON.stringify(state)
  for (const [i, h] of hooks.entries()) {
    const env = Object.fromEntries(
      (h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    )
    const r = spawnSync(h.path, (h.args ?? [h.path]).slice(1), {
      argv0: h.args?.[0] ?? h.path,
      input,
      env,
      stdio: ['pipe', 'inherit', 'pipe'],
      ...(h.timeout ? { timeout: h.timeout * 1000 } : {}),
    })
    if (r.error || r.status !== 0)
      throw new CordonError(
        'setup_failed',
        `hooks.${kind}[${i}] ${h.path} failed: ${r.error ? r.error.message : `exit status ${r.status ?? r.signal}`}` +
          (r.stderr?.length ? `: ${r.stderr.toString().trim()}` : ''),
        { step: `hooks.${kind}` },
      )
  }
}
