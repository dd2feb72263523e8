// Cost of monitoring, side by side in one run (medians over --rounds):
//  1. per notified syscall: a loop of raw getppid calls in the same sandbox unwatched, watched
//     by cordon (seccomp user notification, answered by the launcher, streamed to Node), and
//     traced by strace (`strace -f --seccomp-bpf -e trace=getppid`: ptrace stops on the same
//     calls only, the cheapest way strace has);
//  2. the event throughput ceiling: notified calls per second end to end, with the default
//     monitor rules evaluating every event in Node, and what was delivered vs shed;
//  3. per process start (a shell running /bin/true in a loop): unmonitored, with the syscalls
//     the default rules watch (exec notified; process creation is never notified, it is
//     counted), and with process events on top (proc connector, spawn counts), as
//     `cordon run --monitor` runs.
//
//   node bench/monitor.mjs [--rounds N] [--calls N] [--json] [--no-strace] [--root DIR]
// --root measures another checkout's build (DIR/build) with this script and this checkout's
// storm.c, so two versions compare on the same code: bench/monitor-compare.mjs interleaves them.
// Unset NODE_EXTRA_CA_CERTS first: it adds ~150 ms to each Node start (not measured here, but
// it slows the machine's other Node processes).
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const here = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = benchArgs(import.meta.url, {
  rounds: { type: 'string', default: '7' },
  calls: { type: 'string', default: '200000' },
  json: { type: 'boolean' },
  'no-strace': { type: 'boolean' },
  root: { type: 'string' },
})
const root = values.root ?? here
const lib = (p) => import(join(root, 'build', 'src', p))
const { spawn } = await lib('run/spawn.js')
const { MonitorSession } = await lib('monitor/session.js')
const rounds = Number(values.rounds)
const calls = Number(values.calls)
const work = mkdtempSync(join(tmpdir(), 'cordon-bench-monitor-'))
// A root caller's sandbox runs as an unprivileged id: it must be able to enter the directory.
chmodSync(work, 0o755)
const storm = join(work, 'storm')
execFileSync('cc', ['-O2', '-o', storm, join(here, 'test', 'monitor', 'storm.c')])
const policy = { extends: ['minimal'], filesystem: [{ ro: work }] }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** One run of the loop; returns ns per call (the program's own clock) and event tallies. */
async function loop(watch, session) {
  const p = spawn(policy, storm, ['loop', String(calls)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    context: { cwd: work },
    ...(watch ? { watch: ['getppid'] } : {}),
  })
  let out = ''
  p.stdout.on('data', (b) => (out += b))
  session?.attachProcess(p, ['storm'], {})
  let events = 0
  let counts
  const t0 = performance.now()
  for await (const ev of p.events) {
    session?.handle(p.id, ev)
    if (ev.event === 'syscall') events++
    if (ev.event === 'syscall-counts') counts = ev
  }
  await p.exited
  const wallMs = performance.now() - t0
  return { nsPerCall: Number(out.trim().split(' ')[2]), events, counts, wallMs }
}

function strace() {
  const r = spawnSync(
    'strace',
    ['-f', '--seccomp-bpf', '-e', 'trace=getppid', '-o', '/dev/null', storm, 'loop', String(calls)],
    {
      encoding: 'utf8',
    },
  )
  return r.status === 0 ? Number(r.stdout.trim().split(' ')[2]) : undefined
}

const hasStrace = !values['no-strace'] && spawnSync('strace', ['-V']).status === 0
const session = await MonitorSession.open({ alerts: [], reload: false, log: () => {} })
const s = { plain: [], watched: [], strace: [], rate: [], delivered: [], dropped: [] }
for (let i = 0; i < rounds; i++) {
  s.plain.push((await loop(false)).nsPerCall)
  const w = await loop(true, session)
  s.watched.push(w.nsPerCall)
  s.rate.push(calls / (w.wallMs / 1000))
  s.delivered.push(w.events)
  s.dropped.push(w.counts?.dropped ?? 0)
  if (w.counts?.counts.getppid !== calls)
    throw new Error(`counted ${w.counts?.counts.getppid} of ${calls} calls`)
  if (hasStrace) s.strace.push(strace())
}

// 3. Process starts: what --monitor adds to fork + exec.
const STARTS = 300
const startsScript = `i=0; while [ $i -lt ${STARTS} ]; do /bin/true; i=$((i+1)); done`
const watchList = session.watchList()
async function starts(options) {
  const t0 = performance.now()
  const p = spawn({ extends: ['default'], filesystem: [{ ro: work }] }, 'sh', ['-c', startsScript], {
    stdio: 'ignore',
    context: { cwd: work },
    ...options,
  })
  let processes = 0
  for await (const ev of p.events) {
    session.handle(p.id, ev)
    if (ev.event === 'process' && ev.action === 'exec') processes++
  }
  await p.exited
  return { usPerStart: ((performance.now() - t0) * 1000) / STARTS, processes }
}
const st = { plain: [], watched: [], processes: [] }
for (let i = 0; i < rounds; i++) {
  st.plain.push((await starts({})).usPerStart)
  st.watched.push((await starts({ watch: watchList })).usPerStart)
  const p = await starts({ watch: watchList, processEvents: true })
  st.processes.push(p.usPerStart)
  if (p.processes < STARTS) throw new Error(`saw ${p.processes} of ${STARTS} execs as process events`)
}
await session.close()
rmSync(work, { recursive: true, force: true })

const plain = median(s.plain)
const watched = median(s.watched)
const traced = hasStrace ? median(s.strace) : undefined
const result = {
  calls,
  rounds,
  nsPerCall: { unwatched: plain, cordonNotify: watched, ...(traced ? { straceSeccompBpf: traced } : {}) },
  costPerNotifiedCallUs: (watched - plain) / 1000,
  ...(traced
    ? { straceCostPerCallUs: (traced - plain) / 1000, ratioVsStrace: (watched - plain) / (traced - plain) }
    : {}),
  throughput: {
    notifiedPerSecond: Math.round(median(s.rate)),
    delivered: median(s.delivered),
    dropped: median(s.dropped),
  },
  processStartUs: {
    unmonitored: median(st.plain),
    watched: median(st.watched),
    watchedWithProcessEvents: median(st.processes),
  },
}
if (values.json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
} else {
  const f = (n) => n.toFixed(2)
  console.log(`getppid loop, ${calls} calls, median of ${rounds} rounds (ns per call):`)
  console.log(`  unwatched                          ${f(plain)}`)
  console.log(
    `  cordon notify (launcher + Node)    ${f(watched)}   +${f(result.costPerNotifiedCallUs)} µs per call`,
  )
  if (traced)
    console.log(
      `  strace -f --seccomp-bpf            ${f(traced)}   +${f(result.straceCostPerCallUs)} µs per call (cordon = ${f(result.ratioVsStrace)}× strace's cost)`,
    )
  console.log(
    `event throughput: ${result.throughput.notifiedPerSecond} notified calls/s end to end with the default rules; ` +
      `${result.throughput.delivered} events delivered, ${result.throughput.dropped} shed (counted) of ${calls}`,
  )
  const ps = result.processStartUs
  console.log(`process start (fork + exec of /bin/true by sh, ${STARTS} per run; µs per start):`)
  console.log(`  unmonitored                        ${f(ps.unmonitored)}`)
  console.log(`  default rules' watched syscalls    ${f(ps.watched)}   +${f(ps.watched - ps.unmonitored)} µs`)
  console.log(
    `  + process events (proc connector)  ${f(ps.watchedWithProcessEvents)}   +${f(ps.watchedWithProcessEvents - ps.watched)} µs more`,
  )
}
