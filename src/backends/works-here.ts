// Whether a runtime works on this host, remembered for a run that fails under it. A runtime can be
// installed and still broken on the host's kernel (Debian 12's runsc answers EINVAL to `ls /` on
// Linux 6.18): the command then fails with the runtime's error as its own (`ls: cannot access
// '/': Invalid argument`), and the user blamed the command or the policy. `cordon check
// --backend` asks (backendWorks); a failed run asks the same once per runtime binary and kernel,
// kept in the caller's state directory, so an everyday failing command pays it once.
import { readFileSync, statSync } from 'node:fs'
import { release } from 'node:os'
import { join } from 'node:path'
import { replaceFile } from '../host/write-all.js'
import { privateStateDir } from '../run/state-dir.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { backendWorks, type RuntimeBackend, runtimePath } from './runtime.js'

type Works = { ok: boolean; why: string }

/** The build's id (scripts/bundle-cli.mjs defines it in the CLI's bundles); unbundled, none. */
declare const __CORDON_BUILD__: string | undefined
const BUILD = typeof __CORDON_BUILD__ === 'string' ? __CORDON_BUILD__ : 'unbundled'

const FILE = 'runtime-works.json'

/** What the answer depends on: the runtime's binary (path, size, time), the kernel, and this
 * cordon's build (one that makes the runtime work here must not be told it does not). */
function keyOf(backend: RuntimeBackend): string | undefined {
  const path = runtimePath(backend)
  const st = path ? statSync(path, { throwIfNoEntry: false }) : undefined
  return st && `${backend} ${path} ${st.size} ${st.mtimeMs} ${release()} ${BUILD}`
}

function readAll(): Record<string, Works> {
  try {
    const v: unknown = JSON.parse(readFileSync(join(privateStateDir(), FILE), 'utf8'))
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, Works>) : {}
  } catch {
    return {}
  }
}

/** Keeps the answer (a container that ran) for backend's binary and kernel, written whole
 * (replaceFile); a failure to write is silent: the next failed run asks again. */
export function rememberWorks(backend: RuntimeBackend, works: Works): void {
  const key = keyOf(backend)
  if (!key) return
  try {
    const dir = privateStateDir()
    const entries = Object.fromEntries(
      Object.entries(readAll()).filter(([k]) => !k.startsWith(`${backend} `)),
    )
    entries[key] = { ok: works.ok, why: works.why }
    replaceFile(join(dir, FILE), Buffer.from(JSON.stringify(entries)))
  } catch {}
}

/** Whether backend works here: the answer kept for this binary and kernel, else asked now (a
 * container running `ls /` under `policy()`, `cordon check`'s default policy) and kept. Where
 * it cannot be asked (that policy refuses this directory) nothing is claimed: ok. */
export async function worksHere(backend: RuntimeBackend, policy: () => ResolvedPolicy): Promise<Works> {
  const key = keyOf(backend)
  const kept = key ? readAll()[key] : undefined
  if (kept && typeof kept.ok === 'boolean' && typeof kept.why === 'string') return kept
  let probe: ResolvedPolicy
  try {
    probe = policy()
  } catch {
    return { ok: true, why: '' }
  }
  const works = await backendWorks(backend, probe)
  // A runtime that did not start (too many open files, a full disk) may start next time.
  if (works.ran) rememberWorks(backend, works)
  return works
}
