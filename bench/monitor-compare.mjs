// Monitoring cost of this checkout against another (an older commit's worktree, built), in one
// run: bench/monitor.mjs alternates between the two builds one round at a time, so load on a
// shared machine hits both alike. Prints each side's medians and this/other ratios for the cost
// a notified call adds and the cost a process start adds, plus each side's CPU time (user+sys
// of the bench process and everything it started).
//
//   node bench/monitor-compare.mjs --other DIR [--rounds N] [--calls N]
// Unset NODE_EXTRA_CA_CERTS first. Root (the benches' sandboxes use cgroups and the proc connector).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const here = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = benchArgs(import.meta.url, {
  other: { type: 'string' },
  rounds: { type: 'string', default: '7' },
  calls: { type: 'string', default: '100000' },
})
if (!values.other) throw new Error('--other DIR: a built checkout to compare with')
const sides = { this: here, other: resolve(values.other) }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
/** CPU seconds of this process's reaped children (cutime + cstime), from /proc/self/stat. */
const childCpu = () => {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return (Number(f[13]) + Number(f[14])) / 100
}

const got = { this: [], other: [] }
for (let i = 0; i < Number(values.rounds); i++)
  for (const [name, root] of i % 2 ? Object.entries(sides).reverse() : Object.entries(sides)) {
    const cpu0 = childCpu()
    const r = spawnSync(
      process.execPath,
      [
        join(here, 'bench', 'monitor.mjs'),
        '--root',
        root,
        '--rounds',
        '1',
        '--calls',
        values.calls,
        '--json',
        '--no-strace',
      ],
      { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`)
    got[name].push({ ...JSON.parse(r.stdout), cpuSeconds: childCpu() - cpu0 })
    console.error(`round ${i + 1} ${name} done`)
  }

const summary = Object.fromEntries(
  Object.entries(got).map(([name, runs]) => {
    const m = (f) => median(runs.map(f))
    return [
      name,
      {
        unwatchedNs: m((r) => r.nsPerCall.unwatched),
        watchedNs: m((r) => r.nsPerCall.cordonNotify),
        perCallUs: m((r) => r.costPerNotifiedCallUs),
        notifiedPerSecond: m((r) => r.throughput.notifiedPerSecond),
        startUnmonitoredUs: m((r) => r.processStartUs.unmonitored),
        startWatchedUs: m((r) => r.processStartUs.watched),
        startMonitorUs: m((r) => r.processStartUs.watchedWithProcessEvents),
        startWatchedAddedUs: m((r) => r.processStartUs.watched - r.processStartUs.unmonitored),
        startMonitorAddedUs: m(
          (r) => r.processStartUs.watchedWithProcessEvents - r.processStartUs.unmonitored,
        ),
        cpuSeconds: m((r) => r.cpuSeconds),
      },
    ]
  }),
)
const ratio = (k) => summary.this[k] / summary.other[k]
const ratios = Object.fromEntries(Object.keys(summary.this).map((k) => [k, Number(ratio(k).toFixed(3))]))
console.log(
  JSON.stringify(
    { rounds: Number(values.rounds), calls: Number(values.calls), sides, summary, ratios },
    null,
    1,
  ),
)
