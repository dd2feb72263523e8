// Start-to-exit latency of /bin/true under cordon and its peers, side by side in one run.
// Variants are interleaved round-robin so drift hits all equally; we report medians and the
// ratio to bwrap, and the CLI's ratio to `node -e 0` run in the same loop. NODE_EXTRA_CA_CERTS is unset for the CLI variant (it adds ~150 ms per node
// start in some environments and is not cordon's cost).
//
//   node bench/startup.mjs [--runs N] [--json]
import { spawn as spawnChild, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { compilePlan, encodePlan, loadPolicyFile, resolvePolicy, spawn } = await import(
  join(root, 'build', 'src', 'index.js')
)
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '100' }, json: { type: 'boolean' } },
})
const runs = Number(values.runs)
const launcher = join(root, 'build', 'native', 'cordon-exec')
const cli = join(root, 'bin', 'cordon.js')
const policyFile = join(root, 'bench', 'bwrap-equivalent.yaml')
const env = { ...process.env }
delete env.NODE_EXTRA_CA_CERTS

const resolved = resolvePolicy({ policy: loadPolicyFile(policyFile), baseDir: root, label: policyFile }, '/')
const planDir = mkdtempSync(join(tmpdir(), 'cordon-bench-'))
const planFile = join(planDir, 'true.plan')
writeFileSync(planFile, encodePlan(compilePlan(resolved)))
// Left behind by every earlier run of this bench: removed however the process ends.
process.on('exit', () => rmSync(planDir, { recursive: true, force: true }))

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

/** Each variant returns elapsed milliseconds for one run of /bin/true. */
const variants = [
  { name: 'cordon-exec (precompiled plan)', run: () => timeSync(launcher, [planFile, '--', '/bin/true']) },
  {
    name: 'spawn() from a running Node process',
    run: async () => {
      const t = performance.now()
      const r = await spawn(resolved, '/bin/true', [], { stdio: 'ignore', context: { cwd: '/' } }).exited
      if (r.code !== 0) throw new Error(`spawn() exited ${r.code}`)
      return performance.now() - t
    },
  },
  {
    name: 'cordon run (CLI, node start included)',
    cli: true,
    run: () => timeSync(process.execPath, [cli, 'run', '--policy', policyFile, '--', '/bin/true']),
  },
  // What Node's own start costs, and the CLI's load alone: the CLI row is judged against these.
  { name: 'node -e 0', node: true, run: () => timeSync(process.execPath, ['-e', '0']) },
  { name: 'cordon --version', run: () => timeSync(process.execPath, [cli, '--version']) },
  ...(has('bwrap')
    ? [
        {
          name: 'bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev',
          bwrap: true,
          run: () =>
            timeSync('bwrap', [
              '--unshare-all',
              '--ro-bind',
              '/',
              '/',
              '--proc',
              '/proc',
              '--dev',
              '/dev',
              '/bin/true',
            ]),
        },
      ]
    : []),
  {
    name: 'unshare -U -r -p -f -m -n -i -u -C',
    run: () => timeSync('unshare', ['-U', '-r', '-p', '-f', '-m', '-n', '-i', '-u', '-C', '/bin/true']),
  },
  { name: '/bin/true (no sandbox)', run: () => timeSync('/bin/true', []) },
]

function timeSync(cmd, args) {
  return new Promise((resolve, reject) => {
    const t = performance.now()
    const child = spawnChild(cmd, args, { stdio: 'ignore', env, cwd: '/tmp' })
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0 ? resolve(performance.now() - t) : reject(new Error(`${cmd} exited ${code}`)),
    )
  })
}

const samples = variants.map(() => [])
for (let i = 0; i < 5; i++) for (const v of variants) await v.run() // warm caches
for (let i = 0; i < runs; i++) {
  for (const [k, v] of variants.entries()) samples[k].push(await v.run())
  if (process.stderr.isTTY && i % 10 === 0) process.stderr.write(`\rrun ${i}/${runs}`)
}
if (process.stderr.isTTY) process.stderr.write('\r')

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const bwrapIndex = variants.findIndex((v) => v.bwrap)
const base = bwrapIndex >= 0 ? median(samples[bwrapIndex]) : undefined
const rows = variants.map((v, k) => ({
  name: v.name,
  medianMs: Number(median(samples[k]).toFixed(2)),
  p90Ms: Number([...samples[k]].sort((a, b) => a - b)[Math.floor(samples[k].length * 0.9)].toFixed(2)),
  vsBwrap: base ? Number((median(samples[k]) / base).toFixed(2)) : null,
}))
// The CLI against Node's own start (issue 23: ≤ 1.3×, and ≤ 25 ms of cordon's own on top).
const nodeMs = median(samples[variants.findIndex((v) => v.node)])
const cliMs = median(samples[variants.findIndex((v) => v.cli)])
const cliVsNode = { vsNode: Number((cliMs / nodeMs).toFixed(2)), ownMs: Number((cliMs - nodeMs).toFixed(2)) }
if (values.json) {
  console.log(JSON.stringify({ version: 1, runs, rows, cli: cliVsNode }, null, 2))
} else {
  console.log(`start-to-exit of /bin/true, ${runs} interleaved runs, median (p90)\n`)
  console.log('| variant | median ms | p90 ms | vs bwrap |')
  console.log('|---|---:|---:|---:|')
  for (const r of rows) console.log(`| ${r.name} | ${r.medianMs} | ${r.p90Ms} | ${r.vsBwrap ?? '-'}× |`)
  console.log(`\ncordon run vs node -e 0: ${cliVsNode.vsNode}× (cordon's own: ${cliVsNode.ownMs} ms)`)
}
