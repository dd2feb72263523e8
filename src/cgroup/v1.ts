// cgroup v1: one hierarchy per controller (memory, pids, cpu+cpuacct, cpuset, freezer), each with
// a `cordon/<name>` group. Also what hybrid hosts use, since their controllers live in v1.
import { existsSync, mkdirSync } from 'node:fs'
import { CordonError } from '../errors.js'
import type { Cgroup, CgroupDriver, Limits } from './driver.js'
import {
  signalMembers,
  procs,
  read,
  readKeyed,
  readNumber,
  removeDir,
  removeIfEmpty,
  removeOrphans,
  writeCpuset,
  waitFor,
  withLimits,
  write,
} from './fs.js'

const PERIOD_US = 100_000

/** cgroup v1 cpu.shares for a cpu-weight (1-10000, 100 = default = 1024 shares). */
export const cpuShares = (weight: number): number => Math.max(2, Math.round((weight * 1024) / 100))

/** A blkio weight for an io-weight (1-10000): the same number, within the v1 range (CFQ and
 * Docker/OCI: 10-1000; BFQ takes 1-1000, `min`). */
export const blkioWeight = (weight: number, min = 10): number => Math.min(1000, Math.max(min, weight))

export const NO_BLKIO_WEIGHT =
  'an io weight needs the BFQ I/O scheduler (CFQ before Linux 5.0) in the kernel: cgroup v1 has no blkio weight file without it; load it (modprobe bfq) or drop io-weight'

export class CgroupV1Driver implements CgroupDriver {
  readonly version = 1
  readonly controllers: string[]
  /** controller → mount point */
  constructor(private readonly mounts: Record<string, string>) {
    this.controllers = Object.keys(mounts)
  }

  private dir(controller: string, name: string): string {
    return `${this.mounts[controller]}/cordon/${name}`
  }

  private need(controller: string, why: string): void {
    if (!this.mounts[controller])
      throw new CordonError(
        'setup_failed',
        `${why} needs the cgroup v1 ${controller} controller, which is not mounted; run \`cordon check\``,
      )
  }

  create(name: string, limits: Limits): Cgroup {
    if (limits.memory !== undefined || limits.swap !== undefined) this.need('memory', 'a memory limit')
    if (limits.pids !== undefined) this.need('pids', 'a pids limit')
    if (limits.cpus !== undefined || limits.cpuWeight !== undefined) this.need('cpu', 'a CPU limit')
    if (limits.cpuset !== undefined) this.need('cpuset', 'a cpuset')
    if (limits.ioWeight !== undefined) this.need('blkio', 'an io weight')
    const used = this.used(limits)
    const dirs: Record<string, string> = {}
    for (const c of used) {
      const parent = `${this.mounts[c]}/cordon`
      mkdirSync(parent, { recursive: true })
      if (c === 'cpuset' && !read(`${parent}/cpuset.cpus`)) {
        // cpuset children start empty: inherit the root's, or nothing can join.
        write(`${parent}/cpuset.cpus`, read(`${this.mounts[c]}/cpuset.cpus`))
        write(`${parent}/cpuset.mems`, read(`${this.mounts[c]}/cpuset.mems`))
      }
      const d = this.dir(c, name)
      mkdirSync(d)
      dirs[c] = d
    }
    return withLimits(new CgroupV1(dirs), limits)
  }

  sweep(limits: Limits): void {
    const used = this.used(limits)
    // Orphans are swept in the freezer hierarchy first: thawing there lets their processes die,
    // so the other hierarchies' groups are empty by the time they are swept.
    for (const c of ['freezer', ...used.filter((c) => c !== 'freezer')])
      if (this.mounts[c] && existsSync(`${this.mounts[c]}/cordon`)) removeOrphans(`${this.mounts[c]}/cordon`)
  }

  /** Every group gets memory, pids, cpu(acct) and freezer when present: stats, OOM and freeze. */
  private used(limits: Limits): string[] {
    return [
      'memory',
      'pids',
      'cpu',
      'cpuacct',
      'freezer',
      ...(limits.cpuset ? ['cpuset'] : []),
      ...(limits.ioWeight !== undefined ? ['blkio'] : []),
    ].filter((c) => this.mounts[c])
  }
}

export class CgroupV1 implements Cgroup {
  readonly version = 1
  readonly joinPaths: string[]
  constructor(private readonly dirs: Record<string, string>) {
    // cpu and cpuacct are often co-mounted: one directory, joined once.
    this.joinPaths = [...new Set(Object.values(dirs))]
  }

  ref() {
    return { version: 1 as const, dirs: { ...this.dirs } }
  }

  apply(l: Limits): void {
    const d = this.dirs
    if (l.memory !== undefined && d.memory) {
      write(`${d.memory}/memory.limit_in_bytes`, l.memory)
      const memsw = `${d.memory}/memory.memsw.limit_in_bytes`
      if (existsSync(memsw)) write(memsw, l.memory + (l.swap ?? 0))
    }
    if (l.pids !== undefined && d.pids) write(`${d.pids}/pids.max`, l.pids)
    if (l.cpus !== undefined && d.cpu) {
      write(`${d.cpu}/cpu.cfs_period_us`, PERIOD_US)
      write(`${d.cpu}/cpu.cfs_quota_us`, Math.max(1000, Math.round(l.cpus * PERIOD_US)))
    }
    if (l.cpuWeight !== undefined && d.cpu) write(`${d.cpu}/cpu.shares`, cpuShares(l.cpuWeight))
    if (l.ioWeight !== undefined && d.blkio) {
      // BFQ (1-1000) where the kernel has it, else CFQ's (10-1000); the default is 100 in both.
      const file = [`${d.blkio}/blkio.bfq.weight`, `${d.blkio}/blkio.weight`].find((f) => existsSync(f))
      if (!file) throw new CordonError('setup_failed', NO_BLKIO_WEIGHT)
      write(file, blkioWeight(l.ioWeight, file.endsWith('bfq.weight') ? 1 : 10))
    }
    if (l.cpuset !== undefined && d.cpuset) {
      write(`${d.cpuset}/cpuset.mems`, read(`${d.cpuset}/../cpuset.mems`))
      writeCpuset(`${d.cpuset}/cpuset.cpus`, l.cpuset)
    }
  }

  stats() {
    const d = this.dirs
    return {
      memoryBytes: d.memory ? readNumber(`${d.memory}/memory.usage_in_bytes`) : 0,
      memoryPeakBytes: d.memory ? readNumber(`${d.memory}/memory.max_usage_in_bytes`) : 0,
      pids: d.pids ? readNumber(`${d.pids}/pids.current`) : 0,
      cpuUsageUsec: d.cpuacct ? Math.round(readNumber(`${d.cpuacct}/cpuacct.usage`) / 1000) : 0,
    }
  }

  events() {
    return {
      oomKills: this.dirs.memory ? (readKeyed(`${this.dirs.memory}/memory.oom_control`).oom_kill ?? 0) : 0,
      pidsMax: this.dirs.pids ? (readKeyed(`${this.dirs.pids}/pids.events`).max ?? 0) : 0,
    }
  }

  private freezer(state: 'FROZEN' | 'THAWED'): void {
    if (!this.dirs.freezer)
      throw new CordonError(
        'setup_failed',
        'freezing needs the cgroup v1 freezer controller; run `cordon check`',
      )
    write(`${this.dirs.freezer}/freezer.state`, state)
    waitFor(() => read(`${this.dirs.freezer}/freezer.state`) === state, 2000)
  }

  freeze(): void {
    this.freezer('FROZEN')
  }
  thaw(): void {
    this.freezer('THAWED')
  }
  /** FREEZING counts: a group that cannot finish freezing (a task waits in vfork for a child
   * the freezer stopped) still runs nothing, and a signal it is sent waits with it. Taken for
   * running, it was sent the signals of `cordon kill` and a timeout, and the run hung. */
  frozen(): boolean {
    if (!this.dirs.freezer) return false
    const state = read(`${this.dirs.freezer}/freezer.state`)
    return state === 'FROZEN' || state === 'FREEZING'
  }

  killAll(): void {
    // v1 has no cgroup.kill: freeze so nothing forks while we signal, kill, thaw to let them die.
    const all = () => [...new Set(this.joinPaths.flatMap(procs))]
    if (all().length === 0) return
    if (this.dirs.freezer) this.freeze()
    for (let round = 0; round < 20 && all().length; round++) {
      signalMembers(this.joinPaths, 'SIGKILL')
      if (this.dirs.freezer) write(`${this.dirs.freezer}/freezer.state`, 'THAWED')
      waitFor(() => all().length === 0, 100)
    }
  }

  remove(): void {
    // Every hierarchy holds the same processes: the first that is busy says the group is.
    if (this.joinPaths.every(removeIfEmpty)) return
    this.killAll()
    for (const d of this.joinPaths) removeDir(d)
  }
}
