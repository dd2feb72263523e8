// Timings the tests used to assert, measured here instead (issue 22: a loaded machine must not
// decide whether a test passes; the tests keep the behaviour):
//  1. CPU share of a busy loop under `limits.cpus: 0.5` (test/cgroup/limits.test.ts keeps "never
//     above the quota"); expected 0.5 ± 0.1 on a quiet machine;
//  2. how long after the default fork-storm rule's threshold is crossed the sandbox is frozen
//     (test/monitor/respond.test.ts keeps "frozen, alerted, thawed"); expected < 200 ms;
//  3. how long a real fork bomb (`storm grow`, thousands of spinning forks at the default 4096-task
//     limit) runs before the default rule freezes it: init, which counts the spawns, must get
//     the CPU among them (it runs at nice -20 for a root caller);
//  4. how long WebhookSink.send() takes (test/monitor/rules.test.ts keeps "only queues: no
//     request has been made when it returns"); expected < 5 ms.
// Needs root (the cgroup) and cc (the storm program); run after `npm run build`.
//
//   node bench/timings.mjs [--rounds N] [--json]
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const lib = (p) => import(join(root, 'build', 'src', p))
const { run } = await lib('index.js')
const { WebhookSink } = await lib('monitor/sinks.js')

const { values } = benchArgs(import.meta.url, {
  rounds: { type: 'string', default: '3' },
  json: { type: 'boolean', default: false },
})
const rounds = Number(values.rounds)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const scratch = mkdtempSync(join(tmpdir(), 'cordon-bench-'))
chmodSync(scratch, 0o755) // the sandbox runs as an id range of its own
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }))

async function cpuShare() {
  const r = await run(
    { extends: ['minimal'], limits: { cpus: '0.5', timeout: '2s' } },
    'sh',
    ['-c', 'while :; do :; done'],
    {
      reject: false,
    },
  )
  return r.stats.cpuUsageUsec / 1000 / r.durationMs
}

/** Runs `cordon run ARGS` until the default fork-storm rule fires (alerts written to a file), then
 * kills the frozen sandbox through its cgroup; without an alert, its supervisor's death takes it
 * along. The alert (undefined if none came) and the run's output. */
async function runUntilFrozen(args, waitMs) {
  const alerts = join(scratch, `alerts-${Date.now()}.jsonl`)
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'cordon.js'), 'run', '--alert', `file:${alerts}`, ...args],
    {
      cwd: scratch,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    },
  )
  const exited = new Promise((r) => child.once('exit', r))
  let err = ''
  child.stderr.on('data', (b) => (err += b))
  let out = ''
  child.stdout.on('data', (b) => (out += b))
  let alert
  for (let i = 0; i < waitMs / 20 && !alert; i++) {
    await new Promise((r) => setTimeout(r, 20))
    if (existsSync(alerts))
      alert = readFileSync(alerts, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((a) => a.rule === 'fork-storm')
  }
  if (alert)
    execFileSync(process.execPath, [join(root, 'bin', 'cordon.js'), 'kill', alert.sandbox], {
      stdio: 'ignore',
    })
  else child.kill('SIGKILL')
  await exited
  if (!alert) console.error(`bench: no freeze: ${err.trim()}`)
  return { alert, out }
}

/** ms from the first fork that had 250 others in the second before it to the freeze. */
async function freezeLatency(storm) {
  const { alert, out } = await runUntilFrozen(
    // The rule counts while a quarter of the limit is held (as test/monitor/respond).
    ['--profile', 'minimal', '--ro', scratch, '--pids', '400', '--monitor', '--', storm, 'hold', '110'],
    30_000,
  )
  if (!alert) return NaN
  const at = out
    .trim()
    .split('\n')
    .map((l) => Number(l.split(' ')[1]) * 1000)
  const first = at.findIndex((t, i) => i >= 250 && t - at[i - 250] <= 1000)
  return Date.parse(alert.time) - at[first]
}

/** ms from the bomb's launch to its freeze (the alert's time), at the default task limit. */
async function bombFreezeMs(storm) {
  const t0 = Date.now()
  const { alert } = await runUntilFrozen(['--ro', scratch, '--monitor', '--', storm, 'grow'], 60_000)
  return alert ? Date.parse(alert.time) - t0 : NaN
}

async function sendMs() {
  const server = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()))
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const sink = new WebhookSink(`http://127.0.0.1:${server.address().port}/`, {})
  const alert = {
    time: new Date().toISOString(),
    rule: 'r',
    priority: 'warning',
    output: 'x',
    sandbox: 's',
    actions: ['alert'],
  }
  const t0 = performance.now()
  sink.send(alert)
  const ms = performance.now() - t0
  await sink.close()
  server.close()
  return ms
}

const storm = join(scratch, 'storm')
execFileSync('cc', ['-O2', '-o', storm, join(root, 'test', 'monitor', 'storm.c')])
const results = { cpuShare: [], freezeMs: [], bombFreezeMs: [], sendMs: [] }
for (let i = 0; i < rounds; i++) {
  results.cpuShare.push(await cpuShare())
  results.freezeMs.push(await freezeLatency(storm))
  results.bombFreezeMs.push(await bombFreezeMs(storm))
  results.sendMs.push(await sendMs())
}
const summary = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]))
if (values.json) console.log(JSON.stringify({ rounds, ...summary, samples: results }))
else {
  console.log(`cpus 0.5 busy loop:        ${summary.cpuShare.toFixed(3)} CPU (want 0.5 ± 0.1)`)
  console.log(`fork storm frozen after:   ${summary.freezeMs.toFixed(1)} ms (want < 200)`)
  console.log(`fork bomb frozen after:    ${summary.bombFreezeMs.toFixed(0)} ms from its launch`)
  console.log(`WebhookSink.send():        ${summary.sendMs.toFixed(3)} ms (want < 5)`)
}
