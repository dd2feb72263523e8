// Throughput: how many sandboxes one Node process starts and finishes per second, cordon's
// spawn() against bwrap driven by the same harness (child_process.spawn, same stdio, same
// concurrency), at several concurrency levels. Also the supervisor's memory per running
// sandbox: Node's RSS and the launchers' RSS while N sandboxes sleep, as N grows.
// Each level runs in rounds: every round starts `total / rounds` sandboxes of every variant, the
// variants' order rotated from round to round, so drift and a neighbour's load hit all of them.
// A row's rate is the median of its rounds', and its ratio to bwrap the median of the rounds'
// paired ratios (with their range): one pass per variant swung by ±0.2 from run to run.
// NODE_EXTRA_CA_CERTS does not matter here (one Node process for the whole run).
//
// Two floor rows come from the same harness: `unshare` with the same namespaces and nothing
// else (what creating and tearing down the namespaces costs, which no launcher can skip), and
// cordon-exec started directly (the launcher without spawn()'s Node-side work).
//
//   node bench/throughput.mjs [--total 2000] [--rounds 5] [--levels 16,64,256] [--json]
import { spawn as spawnChild, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { callerContext, compilePlan, encodePlan, loadPolicyFile, resolvePolicy, spawn } = await import(
  join(root, 'build', 'src', 'index.js')
)
const { startLauncher, starter, withStarter } = await import(
  join(root, 'build', 'src', 'run', 'launcher-process.js')
)
const { values } = benchArgs(import.meta.url, {
  total: { type: 'string', default: '2000' },
  rounds: { type: 'string', default: '5' },
  levels: { type: 'string', default: '16,64,256' },
  memory: { type: 'string', default: '16,64,256' },
  json: { type: 'boolean' },
})
const total = Number(values.total)
const rounds = Number(values.rounds)
if (!(Number.isInteger(rounds) && rounds >= 1 && total >= rounds))
  throw new Error(`--rounds must be a whole number from 1 to --total (${total}), got ${values.rounds}`)
const levels = values.levels.split(',').map(Number)
const memoryLevels = values.memory.split(',').map(Number)
const policyFile = join(root, 'bench', 'bwrap-equivalent.yaml')
const resolved = resolvePolicy({ policy: loadPolicyFile(policyFile), baseDir: root, label: policyFile }, '/')
// Compiled once, as a server that starts many sandboxes of one policy would.
const plan = compilePlan(resolved, { ...callerContext(), cwd: '/' })
const bwrapArgs = ['--unshare-all', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev']
const hasBwrap = spawnSync('sh', ['-c', 'command -v bwrap']).status === 0
const launcher = join(root, 'build', 'native', 'cordon-exec')
const planDir = mkdtempSync(join(tmpdir(), 'cordon-throughput-'))
const planFile = join(planDir, 'plan.bin')
const planBytes = encodePlan(plan)
writeFileSync(planFile, planBytes)
process.on('exit', () => rmSync(planDir, { recursive: true, force: true }))
const unshareArgs = ['-U', '-r', '-p', '-f', '-m', '-n', '-i', '-u', '-C']

let firstError
const exitOf = (child) =>
  new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code) => resolve(code))
  })

/** spawn() of argv through one starter (run/launcher-process.ts), as a variant's start. */
const spawnWith = (starter) => (argv) => {
  const p = withStarter(starter, () =>
    spawn(plan, argv[0], argv.slice(1), { stdio: 'ignore', context: { cwd: '/' } }),
  )
  return {
    done: p.exited.then((r) => {
      if (r.code !== 0) firstError ??= r.error?.message ?? `exit ${r.code} (${r.reason})`
      return r.code
    }),
    pid: () => p.pid,
  }
}

/** Each variant starts one sandbox running argv and returns {done, pid}. */
const variants = [
  { name: 'cordon spawn()', start: spawnWith('addon') },
  // spawn() as it started the launcher before the addon (and still does where it is not built).
  {
    name: 'cordon spawn() through child_process (no addon)',
    before: true,
    start: spawnWith('child_process'),
  },
  // What spawn() cannot go above: the same launcher, started as spawn() starts it (the addon),
  // the plan in and the events out on its channel, read to the end; none of spawn()'s own work
  // (the plan bound to the run, the registry record, the events parsed, the exit reported).
  {
    name: `floor of spawn(): cordon-exec started as spawn() does (${starter()}), with its channel`,
    floor: true,
    start: (argv) => {
      const { process: child, channel } = startLauncher(
        launcher,
        ['--plan-fd', '3', '--events-fd', '3', '--go-fd', '3', '--', ...argv],
        ['ignore', 'ignore', 'ignore'],
        process.env,
        planBytes,
      )
      channel.go()
      channel.read(
        () => {},
        () => {},
      )
      const done = new Promise((resolve, reject) => {
        child.once('error', reject)
        child.once('close', (code) => resolve(code))
      })
      return { done, pid: () => child.pid }
    },
  },
  {
    name: 'cordon-exec (child_process.spawn)',
    floor: true,
    start: (argv) => {
      const c = spawnChild(launcher, [planFile, '--', ...argv], { stdio: 'ignore' })
      return { done: exitOf(c), pid: () => c.pid }
    },
  },
  ...(hasBwrap
    ? [
        {
          name: 'bwrap (child_process.spawn)',
          bwrap: true,
          start: (argv) => {
            const c = spawnChild('bwrap', [...bwrapArgs, ...argv], { stdio: 'ignore' })
            return { done: exitOf(c), pid: () => c.pid }
          },
        },
      ]
    : []),
  {
    name: 'unshare, same namespaces only (floor)',
    floor: true,
    start: (argv) => {
      const c = spawnChild('unshare', [...unshareArgs, ...argv], { stdio: 'ignore' })
      return { done: exitOf(c), pid: () => c.pid }
    },
  },
]

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]
}

/** One round of `count` sandboxes, `concurrency` at once: sandboxes per second, and each
 * sandbox's start-to-exit latency pushed to `latencies`. */
async function throughput(variant, concurrency, count, latencies) {
  let next = 0
  let failures = 0
  const t0 = performance.now()
  async function worker() {
    while (next < count) {
      next++
      const t = performance.now()
      const code = await variant.start(['/bin/true']).done
      if (code !== 0) failures++
      latencies.push(performance.now() - t)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  const seconds = (performance.now() - t0) / 1000
  if (failures) throw new Error(`${variant.name}: ${failures} of ${count} runs failed; first: ${firstError}`)
  return count / seconds
}

const median = (xs) => quantile(xs, 0.5)

/** A level's rows: `rounds` rounds, each running every variant once, the order rotated. */
async function level(concurrency) {
  const rates = variants.map(() => [])
  const latencies = variants.map(() => [])
  for (let r = 0; r < rounds; r++) {
    const count = Math.floor(total / rounds) + (r < total % rounds ? 1 : 0)
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length
      rates[i].push(await throughput(variants[i], concurrency, count, latencies[i]))
    }
  }
  const b = variants.findIndex((v) => v.bwrap)
  return variants.map((v, i) => {
    const ratios = b < 0 ? [] : rates[i].map((x, r) => x / rates[b][r])
    return {
      variant: v.name,
      concurrency,
      perSecond: Number(median(rates[i]).toFixed(1)),
      p50Ms: Number(quantile(latencies[i], 0.5).toFixed(2)),
      p99Ms: Number(quantile(latencies[i], 0.99).toFixed(2)),
      vsBwrap: b < 0 ? null : Number(median(ratios).toFixed(2)),
      vsBwrapRange:
        b < 0 ? null : [Math.min(...ratios), Math.max(...ratios)].map((x) => Number(x.toFixed(2))),
    }
  })
}

const rssKiB = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
  } catch {
    return 0
  }
}

/** RSS while n sandboxes sleep: Node's growth over its idle RSS, and the host-side processes'
 * (cordon-exec for cordon, bwrap's own for bwrap) per sandbox. */
async function memory(variant, n) {
  globalThis.gc?.()
  const before = process.memoryUsage().rss
  const running = Array.from({ length: n }, () => variant.start(['/bin/sleep', '30']))
  await new Promise((r) => setTimeout(r, 1500 + n * 15))
  globalThis.gc?.()
  const node = (process.memoryUsage().rss - before) / 1024 / n
  const pids = running.map((r) => r.pid()).filter(Boolean)
  const host = pids.reduce((sum, pid) => sum + rssKiB(pid), 0) / n
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  await Promise.allSettled(running.map((r) => r.done))
  return { nodeKiBPerSandbox: Math.round(node), hostKiBPerSandbox: Math.round(host) }
}

const rows = []
for (const c of levels) rows.push(...(await level(c)))
const mem = []
for (const n of memoryLevels)
  for (const v of variants.filter((x) => !x.floor && !x.before))
    mem.push({ variant: v.name, sandboxes: n, ...(await memory(v, n)) })

if (values.json) {
  console.log(JSON.stringify({ version: 2, total, rounds, rows, memory: mem }, null, 2))
} else {
  console.log(
    `${total} /bin/true sandboxes per variant and level in ${rounds} rounds, one Node process; ` +
      'sandboxes/s and vs bwrap are medians over the rounds (vs bwrap paired by round, its range beside it)\n',
  )
  console.log('| variant | at once | sandboxes/s | p50 ms | p99 ms | vs bwrap | range |')
  console.log('|---|---:|---:|---:|---:|---:|---:|')
  for (const r of rows)
    console.log(
      `| ${r.variant} | ${r.concurrency} | ${r.perSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.vsBwrap ?? '-'}× | ${r.vsBwrapRange?.join('–') ?? '-'} |`,
    )
  console.log(
    '\n| variant | sandboxes running | Node RSS per sandbox (KiB) | host-side process RSS per sandbox (KiB) |',
  )
  console.log('|---|---:|---:|---:|')
  for (const m of mem)
    console.log(`| ${m.variant} | ${m.sandboxes} | ${m.nodeKiBPerSandbox} | ${m.hostKiBPerSandbox} |`)
}
