// Filters for the built-in profiles, compiled at build time (scripts/precompile-seccomp.mjs)
// into build/seccomp-profiles.json beside the compiled code, with the same trust as the code
// itself. It only saves the CLI the ~10 ms of a cold compile; a test checks each entry equals a
// fresh compile, and anything missing or different is compiled as usual.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const PRECOMPILED_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'seccomp-profiles.json',
)

let table: Record<string, string> | null | undefined

/** Key for layers that only pick a built-in profile (no rules, no default): "x64:strict". */
export function precompiledKey(
  layers: readonly { profile?: string; default?: string; rules?: unknown[] }[],
  arch: string,
): string | undefined {
  if (layers.some((l) => l.default !== undefined || (l.rules?.length ?? 0) > 0)) return undefined
  const profile = layers.findLast((l) => l.profile !== undefined)?.profile ?? 'default'
  return `${arch}:${profile}`
}

export function precompiledProgram(key: string): Uint8Array | undefined {
  if (table === undefined)
    try {
      table = JSON.parse(readFileSync(PRECOMPILED_FILE, 'utf8')) as Record<string, string>
    } catch {
      table = null
    }
  const base64 = table?.[key]
  return base64 === undefined ? undefined : Buffer.from(base64, 'base64')
}
