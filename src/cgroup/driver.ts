import { LIMITS } from '../policy/limits.js'
import type { ResolvedPolicy } from '../policy/resolve.js'

// The contract every cgroup implementation (v1, v2) meets. One sandbox = one Cgroup; the
// launcher joins it (its cgroup.procs files) before the sandbox starts.

/** The policy's resource limits, without the timeout (which is the supervisor's, not a cgroup's). */
export type Limits = Omit<ResolvedPolicy['limits'], 'timeoutMs' | 'memoryPercent'>

/** The cgroup v2 controller each limit needs (from policy/limits.ts LIMITS). */
export const LIMIT_CONTROLLERS = Object.fromEntries(
  LIMITS.flatMap((l) => (l.controller ? [[l.key, l.controller]] : [])),
) as Readonly<Record<keyof Limits, string>>

/** The controllers `limits` needs, each once. */
export function controllersFor(limits: Limits): string[] {
  const keys = Object.keys(LIMIT_CONTROLLERS) as (keyof Limits)[]
  return [...new Set(keys.filter((k) => limits[k] !== undefined).map((k) => LIMIT_CONTROLLERS[k]))]
}

export interface Stats {
  memoryBytes: number
  memoryPeakBytes: number
  pids: number
  cpuUsageUsec: number
}

export interface Events {
  /** Times the OOM killer ran in the group. */
  oomKills: number
  /** Forks refused because of the pids limit. */
  pidsMax: number
}

/** Enough to find a group again from another process (`cordon freeze ID`). */
export interface CgroupRef {
  version: 1 | 2
  /** v1: controller → directory; v2: { unified: directory }. */
  dirs: Record<string, string>
}

export interface Cgroup {
  readonly version: 1 | 2
  /** Directories whose cgroup.procs the launcher writes the sandbox's pid to. */
  readonly joinPaths: string[]
  ref(): CgroupRef
  stats(): Stats
  events(): Events
  freeze(): void
  thaw(): void
  frozen(): boolean
  /** Kills every process in the group and waits (bounded) until it is empty. */
  killAll(): void
  /** Kills what is left, then removes the directories. Idempotent. */
  remove(): void
}

export interface CgroupDriver {
  readonly version: 1 | 2
  /** Controllers this driver can limit on this host. */
  readonly controllers: string[]
  /** Creates a group with the limits; throws CordonError naming the controller when one is missing. */
  create(name: string, limits: Limits): Cgroup
  /** Removes the groups of cordon processes that died without removing theirs (fs.ts
   * removeOrphans), in the hierarchies a group with these limits uses. Not part of create():
   * a run sweeps once its sandbox has its go, so that the sweep is not on its start's path. */
  sweep(limits: Limits): void
}
