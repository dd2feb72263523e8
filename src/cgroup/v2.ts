// cgroup v2: one unified tree; cordon's groups live under `<root>/cordon/<name>` with the
// controllers enabled through subtree_control. cgroup.kill and cgroup.freeze do the rest.
import { existsSync, mkdirSync } from 'node:fs'
import { CordonError } from '../errors.js'
import { type Cgroup, type CgroupDriver, controllersFor, type Limits } from './driver.js'
import {
  procs,
  readKeyed,
  readNumber,
  readWords,
  removeDir,
  removeIfEmpty,
  removeOrphans,
  writeCpuset,
  waitFor,
  withLimits,
  write,
} from './fs.js'

const PERIOD_US = 100_000

export class CgroupV2Driver implements CgroupDriver {
  readonly version = 2
  readonly controllers: string[]
  /** `controllers`: what groups under root may use, when not all of root's (a delegated subtree). */
  constructor(
    private readonly root: string,
    controllers?: string[],
  ) {
    this.controllers = controllers ?? readWords(`${root}/cgroup.controllers`)
  }

  create(name: string, limits: Limits): Cgroup {
    const needed = controllersFor(limits)
    for (const c of needed)
      if (!this.controllers.includes(c))
        throw new CordonError(
          'setup_failed',
          `a ${c} limit needs the cgroup v2 ${c} controller, not available at ${this.root} (it may be bound to a v1 hierarchy); run \`cordon check\``,
        )
    const parent = `${this.root}/cordon`
    mkdirSync(parent, { recursive: true })
    const enable = ['memory', 'pids', 'cpu', ...needed].filter(
      (c, i, a) => this.controllers.includes(c) && a.indexOf(c) === i,
    )
    if (enable.length) write(`${parent}/cgroup.subtree_control`, enable.map((c) => `+${c}`).join(' '))
    const dir = `${parent}/${name}`
    mkdirSync(dir)
    return withLimits(new CgroupV2(dir), limits)
  }

  sweep(): void {
    if (existsSync(`${this.root}/cordon`)) removeOrphans(`${this.root}/cordon`)
  }
}

export class CgroupV2 implements Cgroup {
  readonly version = 2
  readonly joinPaths: string[]
  constructor(private readonly dir: string) {
    this.joinPaths = [dir]
  }

  ref() {
    return { version: 2 as const, dirs: { unified: this.dir } }
  }

  apply(l: Limits): void {
    const d = this.dir
    if (l.memory !== undefined) write(`${d}/memory.max`, l.memory)
    if (l.swap !== undefined) write(`${d}/memory.swap.max`, l.swap)
    if (l.pids !== undefined) write(`${d}/pids.max`, l.pids)
    if (l.cpus !== undefined)
      write(`${d}/cpu.max`, `${Math.max(1000, Math.round(l.cpus * PERIOD_US))} ${PERIOD_US}`)
    if (l.cpuWeight !== undefined) write(`${d}/cpu.weight`, l.cpuWeight)
    if (l.cpuset !== undefined) writeCpuset(`${d}/cpuset.cpus`, l.cpuset)
    if (l.ioWeight !== undefined) write(`${d}/io.weight`, `default ${l.ioWeight}`)
  }

  stats() {
    const d = this.dir
    return {
      memoryBytes: readNumber(`${d}/memory.current`),
      memoryPeakBytes: readNumber(`${d}/memory.peak`),
      pids: readNumber(`${d}/pids.current`),
      cpuUsageUsec: readKeyed(`${d}/cpu.stat`).usage_usec ?? 0,
    }
  }

  events() {
    return {
      oomKills: readKeyed(`${this.dir}/memory.events`).oom_kill ?? 0,
      pidsMax: readKeyed(`${this.dir}/pids.events`).max ?? 0,
    }
  }

  freeze(): void {
    write(`${this.dir}/cgroup.freeze`, 1)
    waitFor(() => this.frozen(), 2000)
  }
  thaw(): void {
    write(`${this.dir}/cgroup.freeze`, 0)
  }
  frozen(): boolean {
    return (readKeyed(`${this.dir}/cgroup.events`).frozen ?? 0) === 1
  }

  killAll(): void {
    if (procs(this.dir).length === 0) return
    write(`${this.dir}/cgroup.kill`, 1)
    waitFor(() => procs(this.dir).length === 0, 2000)
  }

  remove(): void {
    if (removeIfEmpty(this.dir)) return
    this.killAll()
    removeDir(this.dir)
  }
}
