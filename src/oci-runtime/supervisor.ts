// The supervisor of a monitored container (monitor.ts starts it: `node supervisor.js ROOT ID`).
// The container is the engine's child, not ours, so its events come from its cgroup: new
// processes (each poll's pids not seen in the previous one: a storm that piles up processes
// is counted whenever it is seen), the pids limit's refusals, memory and task counts. They
// feed cordon's rule engine with the default rules; `freeze` is the container's freezer, the
// same one `pause` uses, and alerts go to ROOT/monitor/ID.alerts.jsonl.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { signalMembers } from '../cgroup/fs.js'
import { MonitorSession } from '../monitor/session.js'
import type { SandboxEvent } from '../run/events.js'
import { cgroupPids, freeze } from './cgroups.js'
import { monitorFiles, monitorWanted, readyFile } from './monitor.js'
import { isAlive, loadRecord, procStat } from './state.js'

const POLL_MS = 50
const STATS_MS = 1000

function readNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim().split(/\s+/).pop())
    return Number.isFinite(n) ? n : undefined
  } catch {
    return undefined
  }
}

/** The pids controller's refusals so far (v2 pids.events "max N"; v1 has the same file). */
function pidsRefused(dirs: readonly string[]): number {
  for (const d of dirs) {
    try {
      const m = /^max (\d+)/m.exec(readFileSync(`${d}/pids.events`, 'utf8'))
      if (m) return Number(m[1])
    } catch {}
  }
  return 0
}

function firstOf(dirs: readonly string[], names: string[]): number | undefined {
  for (const d of dirs)
    for (const n of names) {
      const v = readNumber(`${d}/${n}`)
      if (v !== undefined) return v
    }
  return undefined
}

async function main(root: string, id: string): Promise<number> {
  let rec
  try {
    rec = loadRecord(root, id)
  } catch {
    return 0 // deleted before we got here (a short `run`): nothing left to watch
  }
  if (!isAlive(rec)) return 0
  const group = rec.freezer
  if (!group) throw new Error(`container "${id}" has no cgroup to watch`)
  const files = monitorFiles(root, id)
  const session = await MonitorSession.open({
    rules: monitorWanted(rec.annotations) ?? [],
    alerts: [`file:${files.alerts}`],
    reload: false,
    log: (line) => process.stderr.write(`cordon-oci monitor ${id}: ${line}\n`),
  })
  const limits = {
    ...(firstOf(rec.cgroupDirs, ['memory.max', 'memory.limit_in_bytes']) !== undefined
      ? { memory: firstOf(rec.cgroupDirs, ['memory.max', 'memory.limit_in_bytes'])! }
      : {}),
    ...(firstOf(rec.cgroupDirs, ['pids.max']) !== undefined
      ? { pids: firstOf(rec.cgroupDirs, ['pids.max'])! }
      : {}),
  }
  session.monitor.attach({
    id,
    command: [],
    startedAt: Date.now(),
    limits,
    freeze: () => {
      freeze(group, true)
      return 'cgroup freezer'
    },
    kill: () => {
      signalMembers([group.dir], 'SIGKILL')
      freeze(group, false)
    },
  })
  const emit = (ev: SandboxEvent) => session.handle(id, ev)
  let seen = new Set(cgroupPids(group.dir))
  let refused = pidsRefused(rec.cgroupDirs)
  let lastStats = 0
  const self = procStat(process.pid)!
  writeFileSync(`${readyFile(root, id)}.tmp`, JSON.stringify({ pid: process.pid, startTime: self.startTime }))
  renameSync(`${readyFile(root, id)}.tmp`, readyFile(root, id))
  let stop = false
  process.on('SIGTERM', () => (stop = true))
  process.on('SIGINT', () => (stop = true))
  while (!stop && isAlive(rec)) {
    const now = cgroupPids(group.dir)
    const fresh = now.filter((p) => !seen.has(p)).length
    seen = new Set(now)
    if (fresh)
      emit({
        event: 'spawn',
        count: fresh,
        pids: firstOf(rec.cgroupDirs, ['pids.current']) ?? now.length,
        source: 'cgroup',
      })
    const r = pidsRefused(rec.cgroupDirs)
    if (r > refused) emit({ event: 'pids-limit', refused: r - refused })
    refused = r
    if (Date.now() - lastStats >= STATS_MS) {
      lastStats = Date.now()
      emit({
        event: 'stats',
        memoryBytes: firstOf(rec.cgroupDirs, ['memory.current', 'memory.usage_in_bytes']) ?? 0,
        pids: now.length,
        cpuUsageUsec: 0,
      })
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
  session.monitor.detach(id)
  await Promise.all(session.sinks.map((s) => s.close?.()))
  return 0
}

const [root, id] = process.argv.slice(2)
if (!root || !id) {
  process.stderr.write('usage: supervisor.js ROOT ID (started by cordon-oci create)\n')
  process.exit(2)
}
main(root, id).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`cordon-oci monitor ${id}: ${e instanceof Error ? e.message : String(e)}\n`)
    process.exit(1)
  },
)
