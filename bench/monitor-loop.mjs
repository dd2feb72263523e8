// One watched getppid loop, the quickest check of the per-notified-call cost of a build: ns per
// call (the program's own clock) and CPU per call (this process and everything it started,
// launcher and sandbox included). `rules` runs every event through the default rules, as
// bench/monitor.mjs does; without it Node only parses the events. Run it alternately on two
// builds (--root) to compare them under the same load.
//
//   node bench/monitor-loop.mjs [--root DIR] [--calls N] [--rules]
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const here = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = benchArgs(import.meta.url, {
  root: { type: 'string' },
  calls: { type: 'string', default: '100000' },
  rules: { type: 'boolean' },
})
const root = values.root ?? here
const calls = Number(values.calls)
const { spawn } = await import(join(root, 'build', 'src', 'run', 'spawn.js'))
const { MonitorSession } = await import(join(root, 'build', 'src', 'monitor', 'session.js'))
const session = values.rules
  ? await MonitorSession.open({ alerts: [], reload: false, log: () => {} })
  : undefined
const work = mkdtempSync(join(tmpdir(), 'cordon-bench-loop-'))
// A root caller's sandbox runs as an unprivileged id: it must be able to enter the directory.
chmodSync(work, 0o755)
try {
  const storm = join(work, 'storm')
  execFileSync('cc', ['-O2', '-o', storm, join(here, 'test', 'monitor', 'storm.c')])
  /** CPU seconds of this process and its reaped children, from /proc/self/stat. */
  const cpu = () => {
    const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100
  }
  const c0 = cpu()
  const p = spawn({ extends: ['minimal'], filesystem: [{ ro: work }] }, storm, ['loop', String(calls)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    context: { cwd: work },
    watch: ['getppid'],
  })
  let out = ''
  p.stdout.on('data', (b) => (out += b))
  session?.attachProcess(p, ['storm'], {})
  for await (const ev of p.events) session?.handle(p.id, ev)
  await p.exited
  console.log(
    JSON.stringify({
      nsPerCall: Number(out.trim().split(' ')[2]),
      cpuUsPerCall: ((cpu() - c0) * 1e6) / calls,
    }),
  )
} finally {
  rmSync(work, { recursive: true, force: true })
  await session?.close()
}
