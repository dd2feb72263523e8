// What a policy limits: the catalogue of limits (LIMITS) and the rlimit numbers the plan carries.
import { sizeWord } from './size-word.js'

/** RLIMIT_* numbers (the same on every Linux architecture cordon supports). */
export const RLIMITS: Readonly<Record<string, number>> = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  nice: 13, // these two are 0 in every sandbox (effective.ts rlimitsFor), not a policy's to set
  rtprio: 14,
}

/** A policy's `limits` key (ResolvedPolicy['limits']) other than derived ones. */
export type LimitKey = 'memory' | 'swap' | 'pids' | 'cpus' | 'cpuWeight' | 'cpuset' | 'ioWeight' | 'timeoutMs'

/** Where an export carries a limit: the option, directive or field it writes, or `null` when the
 * target cannot express it (the export then lists it as a gap, `limits.WORD`). */
export interface LimitMapping {
  docker: string | null
  systemd: string | null
  /** Path under config.json's `linux.resources`. */
  oci: string | null
  kubernetes: string | null
}

/** One row per limit: adding a limit is adding a row (and its writers in cgroup/ and export/,
 * which test/policy/limits.test.ts holds to this table). */
export interface LimitSpec extends LimitMapping {
  key: LimitKey
  /** The policy word, the CLI flag (`--WORD`), the report's and the statements' name. */
  word: string
  unit: 'bytes' | 'count' | 'cpus' | 'weight' | 'cpu list' | 'ms'
  /** The cgroup v2 controller that enforces it; none for the timeout (the supervisor's). */
  controller?: string
}

export const LIMITS: readonly LimitSpec[] = [
  {
    key: 'memory',
    word: 'memory',
    unit: 'bytes',
    controller: 'memory',
    docker: '--memory',
    systemd: 'MemoryMax=',
    oci: 'memory.limit',
    kubernetes: 'memory',
  },
  {
    key: 'swap',
    word: 'swap',
    unit: 'bytes',
    controller: 'memory',
    docker: '--memory-swap',
    systemd: 'MemorySwapMax=',
    oci: 'memory.swap',
    kubernetes: null,
  },
  {
    key: 'pids',
    word: 'pids',
    unit: 'count',
    controller: 'pids',
    docker: '--pids-limit',
    systemd: 'TasksMax=',
    oci: 'pids.limit',
    kubernetes: null,
  },
  {
    key: 'cpus',
    word: 'cpus',
    unit: 'cpus',
    controller: 'cpu',
    docker: '--cpus',
    systemd: 'CPUQuota=',
    oci: 'cpu.quota',
    kubernetes: 'cpu',
  },
  {
    key: 'cpuWeight',
    word: 'cpu-weight',
    unit: 'weight',
    controller: 'cpu',
    docker: '--cpu-shares',
    systemd: 'CPUWeight=',
    oci: 'cpu.shares',
    kubernetes: null,
  },
  {
    key: 'cpuset',
    word: 'cpuset',
    unit: 'cpu list',
    controller: 'cpuset',
    docker: '--cpuset-cpus',
    systemd: 'AllowedCPUs=',
    oci: 'cpu.cpus',
    kubernetes: null,
  },
  {
    key: 'ioWeight',
    word: 'io-weight',
    unit: 'weight',
    controller: 'io',
    docker: '--blkio-weight',
    systemd: 'IOWeight=',
    oci: 'blockIO.weight',
    kubernetes: null,
  },
  {
    key: 'timeoutMs',
    word: 'timeout',
    unit: 'ms',
    docker: null,
    systemd: 'RuntimeMaxSec=',
    oci: null,
    kubernetes: 'activeDeadlineSeconds',
  },
]

/** A limit's value as the report and the statements say it. */
export function formatLimit(spec: LimitSpec, value: number | string): string {
  if (typeof value === 'string') return value
  if (spec.unit === 'bytes') return sizeWord(value)
  if (spec.unit === 'ms') return `${value / 1000}s`
  return String(value)
}
