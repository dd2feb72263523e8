// A baseline taken from a learn run (`baseline: {from: app.learn.json}`): the normal rate of the
// syscalls a rule counts, read from what `cordon learn` observed instead of from each sandbox's
// first seconds, so the rule guards a sandbox from its first call.
import { readFileSync } from 'node:fs'
import type { Observation } from '../learn/observation.js'
import { fsPath } from '../host/path-bytes.js'

/** Calls of `syscalls` (and, with `spawns`, process creations) per `windowMs` that the learn
 * runs in observation `file` treated as normal: their peaks within a second, or (older files
 * without peaks) the average; throws with the reason. */
export function learnedRate(
  file: string,
  syscalls: readonly string[],
  windowMs: number,
  spawns = false,
): number {
  let o: Observation
  try {
    o = JSON.parse(readFileSync(fsPath(file), 'utf8')) as Observation
  } catch (e) {
    throw new Error(
      `cannot read ${file}: ${(e as Error).message}; pass a .learn.json written by cordon learn`,
    )
  }
  if (o?.version !== 1 || typeof o.syscalls !== 'object' || !Array.isArray(o.runs))
    throw new Error(
      `${file} is not a cordon learn observation (version 1); pass a .learn.json written by cordon learn`,
    )
  const seconds = o.runs.reduce((t, r) => t + (r.durationMs ?? 0), 0) / 1000
  const uses = syscalls.map((s) => o.syscalls[s]).filter((u) => u !== undefined)
  if (spawns) uses.push(o.spawns ?? { count: 0, peakPerSecond: 0 })
  // The sum of per-syscall peaks bounds the peak of their sum from above: a lenient baseline.
  if (uses.every((u) => u.peakPerSecond !== undefined))
    return (uses.reduce((t, u) => t + u.peakPerSecond!, 0) * windowMs) / 1000
  const calls = uses.reduce((t, u) => t + u.count, 0)
  return seconds > 0 ? (calls / seconds) * (windowMs / 1000) : calls
}
