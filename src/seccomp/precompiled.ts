// Filters for the built-in profiles, compiled at build time (scripts/precompile-seccomp.mjs)
// into build/seccomp/KEY.bpf beside the compiled code, with the same trust as the code itself:
// one small file per key, read only for the key a run needs (reading and decoding a table of
// every key cost the CLI ~9 ms). It only saves the ~10 ms of a cold compile; a test checks each
// entry equals a fresh compile, and anything missing or different is compiled as usual.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const PRECOMPILED_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'seccomp')

const loaded = new Map<string, Uint8Array | undefined>()

/** Key for layers that only pick a built-in profile (no rules, no default): "x64:strict". */
export function precompiledKey(
  layers: readonly { profile?: string; default?: string; rules?: unknown[] }[],
  arch: string,
): string | undefined {
  if (layers.some((l) => l.default !== undefined || (l.rules?.length ?? 0) > 0)) return undefined
  const profile = layers.findLast((l) => l.profile !== undefined)?.profile ?? 'default'
  return `${arch}:${profile}`
}

/** The file of a key; keys are made of names, never of path characters. */
export function precompiledFile(key: string): string | undefined {
  return /^[a-z0-9]+:[a-z0-9+-]+$/.test(key) ? join(PRECOMPILED_DIR, `${key}.bpf`) : undefined
}

export function precompiledProgram(key: string): Uint8Array | undefined {
  if (loaded.has(key)) return loaded.get(key)
  const file = precompiledFile(key)
  let program: Uint8Array | undefined
  try {
    const bytes = file === undefined ? undefined : readFileSync(file)
    // A BPF program is whole 8-byte instructions; anything else is not ours.
    program = bytes && bytes.length > 0 && bytes.length % 8 === 0 ? bytes : undefined
  } catch {}
  loaded.set(key, program)
  return program
}

/** The watch lists filters are precompiled for (build/seccomp/watch-sets.json): the syscalls
 * the default monitor rules watch. Read once, and only by a run that watches. */
let watchSets: string[] | undefined
export const WATCH_SETS_FILE = join(PRECOMPILED_DIR, 'watch-sets.json')

/** The key suffix of a watch list filters are precompiled for: "+watch0". */
function watchKey(watch: readonly string[]): string | undefined {
  if (watchSets === undefined) {
    try {
      const sets: unknown = JSON.parse(readFileSync(WATCH_SETS_FILE, 'utf8'))
      // Compared as JSON, not joined with commas: a name holding a comma (spawn()'s `watch` is
      // not checked) must not pass for two names of the list.
      watchSets = Array.isArray(sets) ? sets.map((w) => (Array.isArray(w) ? JSON.stringify(w) : '')) : []
    } catch {
      watchSets = []
    }
  }
  const i = watchSets.indexOf(JSON.stringify([...new Set(watch)].sort()))
  return i < 0 ? undefined : `+watch${i}`
}

/** The precompiled filter of a plan whose layers only pick a built-in profile (plus the
 * extras every sandbox of that policy gets), unless the run is traced (learn, audit rewrite the
 * filter). A run that watches syscalls for the monitor gets one only for a watch list filters
 * were precompiled for (the default rules'), with its responder. undefined: the plan compiles
 * its own (plan/filter.ts). */
export function precompiledFilter(
  own: readonly { profile?: string; default?: string; rules?: unknown[] }[],
  extras: readonly string[],
  arch: string,
  watch: readonly string[] = [],
  trace?: unknown,
): { program: Uint8Array; responder?: Uint8Array } | undefined {
  const profileKey = trace ? undefined : precompiledKey(own, arch)
  if (!profileKey) return undefined
  const key = `${profileKey}${extras.map((e) => `+${e}`).join('')}`
  if (!watch.length) {
    const program = precompiledProgram(key)
    return program && { program }
  }
  const suffix = watchKey(watch)
  if (!suffix) return undefined
  const program = precompiledProgram(`${key}${suffix}`)
  const responder = precompiledProgram(`${key}${suffix}+responder`)
  return program && responder ? { program, responder } : undefined
}
