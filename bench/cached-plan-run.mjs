// The floor of a `cordon run` that skips the policy entirely (bench/startup.mjs bundles this
// with its own V8 code cache, as the build bundles the CLI): what a CLI that found its plan
// compiled already, in a cache of its own, could not go below. It reads the plan, and runs it
// through spawn() as `cordon run` does (stdio inherited, the registry record and the event
// socket published, the events read to their end, the exit reported); no flags, no policy, no
// compile, no statement statuses, no warnings.
import { readFileSync } from 'node:fs'
import { spawn } from '../src/run/spawn.js'

/** The plan bench/startup.mjs wrote: JSON, its BPF programs as base64, its 64-bit masks as
 * decimal strings. */
const planFromJson = (text) =>
  JSON.parse(text, (_key, v) =>
    v === null || typeof v !== 'object'
      ? v
      : typeof v.$bytes === 'string'
        ? new Uint8Array(Buffer.from(v.$bytes, 'base64'))
        : typeof v.$bigint === 'string'
          ? BigInt(v.$bigint)
          : v,
  )

/** argv: the plan's JSON file, then the command. Resolves to its exit status. */
export async function main([planFile, command, ...args]) {
  const plan = planFromJson(readFileSync(planFile, 'utf8'))
  const child = spawn({ kind: 'plan', plan }, command, args, { stdio: 'inherit', publish: true })
  for await (const event of child.events) void event
  const result = await child.exited
  return result.code ?? 128
}
