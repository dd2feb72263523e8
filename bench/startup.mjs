// Start-to-exit latency of /bin/true under cordon and its peers, side by side in one run.
// Variants are interleaved round-robin so drift hits all equally; we report medians and the
// ratio to bwrap, the CPU each start costs (this Node process and its children: user+sys), the
// CLI's ratio to `node -e 0` run in the same loop, and spawn()'s ratio beside its floor: the same
// launcher started by child_process.spawn with spawn()'s channel (the plan in, events out on one
// socket), read to its end, with none of spawn()'s own JavaScript. NODE_EXTRA_CA_CERTS is unset for the CLI variant (it adds ~150 ms per node
// start in some environments and is not cordon's cost).
//
//   node bench/startup.mjs [--runs N] [--json] [--also NAME=PATH]...
//
// --also NAME=PATH adds a row for another cordon-exec binary (main's, built elsewhere) run on the
// same plan in the same rounds, so a launcher change is measured against its base side by side;
// every cordon-exec row also gets its ratio to bwrap paired by round.
import { spawn as spawnChild, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { compilePlan, encodePlan, loadPolicyFile, PROFILES, resolvePolicy, spawn } = await import(
  join(root, 'build', 'src', 'index.js')
)
const { makeCgroup } = await import(join(root, 'build', 'src', 'run', 'sandbox-cgroup.js'))
const { insertOpsAfterFirst } = await import(join(root, 'build', 'src', 'plan', 'encode.js'))
const { startLauncher, withStarter, starter } = await import(
  join(root, 'build', 'src', 'run', 'launcher-process.js')
)
const { values } = benchArgs(import.meta.url, {
  runs: { type: 'string', default: '100' },
  json: { type: 'boolean' },
  also: { type: 'string', multiple: true, default: [] },
})
const runs = Number(values.runs)
const launcher = join(root, 'build', 'native', 'cordon-exec')
const addonPath = join(root, 'build', 'native', 'cordon-spawn.node')
// The package's bin (package.json): `cordon run` loads its cached CommonJS bundle from there.
const cli = join(root, 'bin', 'cordon.cjs')
const policyFile = join(root, 'bench', 'bwrap-equivalent.yaml')
const env = { ...process.env }
delete env.NODE_EXTRA_CA_CERTS

const resolved = resolvePolicy({ policy: loadPolicyFile(policyFile), baseDir: root, label: policyFile }, '/')
const planDir = mkdtempSync(join(tmpdir(), 'cordon-bench-'))
const planFile = join(planDir, 'true.plan')
const plan = compilePlan(resolved, {
  uid: process.getuid(),
  gid: process.getgid(),
  arch: process.arch,
  cwd: '/',
})
const planBytes = encodePlan(plan)
writeFileSync(planFile, planBytes)
const cachedPlan = cachedPlanCli()
// The default profile shows its working directory: a project of the bench's own (0755, so that
// a root caller's sandbox ids can enter it), not /tmp.
const projectDir = join(planDir, 'project')
mkdirSync(projectDir, { mode: 0o755 })
chmodSync(planDir, 0o755)
// Left behind by every earlier run of this bench: removed however the process ends.
process.on('exit', () => rmSync(planDir, { recursive: true, force: true }))

// The default profile's plan for /bin/true in the project directory, as `cordon compile` writes it.
const defaultPlanFile = join(planDir, 'default.plan')
const compiled = spawnSync(
  process.execPath,
  [cli, 'compile', '-q', '-o', defaultPlanFile, '--', '/bin/true'],
  {
    cwd: projectDir,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  },
)
if (compiled.status !== 0) throw new Error(`cordon compile of the default profile: exit ${compiled.status}`)
const supervised = supervisedFloor()

/** `node -e` source that starts cordon-exec on plan (by cordon's addon, as `cordon run` does,
 * else by child_process) and exits with its status: no cordon JavaScript at all. */
function nodeStartingLauncher(plan) {
  return starter() === 'addon'
    ? `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(addonPath)}); const a = m.exports; ` +
        `const [, fd] = a.spawn(${JSON.stringify(launcher)}, ${JSON.stringify([launcher, plan, '--', '/bin/true'])}, ` +
        `Object.entries(process.env).map(([k, v]) => k + '=' + v), [0, 1, 2]); setInterval(() => {}, 1000); ` +
        `process.on('SIGCHLD', () => { const w = a.wait(fd); if (w) process.exit(w[0]) })`
    : `require('node:child_process').spawn(${JSON.stringify(launcher)}, ${JSON.stringify([plan, '--', '/bin/true'])}, { stdio: 'inherit' }).on('exit', (code) => process.exit(code))`
}

/** What a filed run cannot go below however little JavaScript supervises it: `node -e` source
 * that makes the run's cgroup (the hierarchies and limits cordon's own makeCgroup uses for the
 * default profile here), starts cordon-exec on the default profile's plan with that cgroup
 * bound in (the launcher joins it, as in a run), waits for it, reads the end's statistics and
 * removes the cgroup: no cordon JavaScript, no code cache, no registry record, no host reads, no
 * statuses. Root only (a plain user's runs compile); undefined without a cgroup to make. */
function supervisedFloor() {
  if (process.getuid() !== 0) return undefined
  const resolvedDefault = resolvePolicy(
    { policy: PROFILES.default.policy, baseDir: projectDir, label: 'default' },
    projectDir,
  )
  const limits = { ...resolvedDefault.limits }
  delete limits.timeoutMs
  delete limits.memoryPercent
  const made = makeCgroup(limits, false, false)
  if (!made.cgroup) return undefined
  const groups = made.cgroup.joinPaths.map((p) => dirname(p))
  made.cgroup.remove()
  const name = `bench-floor-${process.pid}`
  const dirs = groups.map((g) => join(g, name))
  const holds = (d, f) => existsSync(join(d, f))
  // The limit files each hierarchy takes (v1 by controller, v2 in one directory), and the
  // files the end's report reads.
  const writes = []
  const reads = []
  for (const [i, g] of groups.entries()) {
    const d = dirs[i]
    if (holds(g, 'memory.limit_in_bytes')) {
      writes.push([join(d, 'memory.limit_in_bytes'), String(limits.memory ?? -1)])
      reads.push(join(d, 'memory.oom_control'), join(d, 'memory.max_usage_in_bytes'))
    } else if (holds(g, 'memory.max')) {
      writes.push([join(d, 'memory.max'), String(limits.memory ?? 'max')])
      reads.push(join(d, 'memory.events'))
    }
    if (holds(g, 'pids.max') || (holds(g, 'cgroup.controllers') && limits.pids !== undefined)) {
      writes.push([join(d, 'pids.max'), String(limits.pids ?? 'max')])
      reads.push(join(d, 'pids.events'))
    }
  }
  const plan = join(planDir, 'default-cgroup.plan')
  writeFileSync(
    plan,
    insertOpsAfterFirst(
      readFileSync(defaultPlanFile),
      dirs.map((path) => ({ op: 'cgroup', path })),
    ),
  )
  process.on('exit', () => {
    for (const d of dirs) rmSync(d, { recursive: false, force: true })
  })
  const script =
    `const fs = require('node:fs'); const dirs = ${JSON.stringify(dirs)}; ` +
    `for (const d of dirs) fs.mkdirSync(d); ` +
    `for (const [f, v] of ${JSON.stringify(writes)}) fs.writeFileSync(f, v); ` +
    `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(addonPath)}); const a = m.exports; ` +
    `const [, fd] = a.spawn(${JSON.stringify(launcher)}, ${JSON.stringify([launcher, plan, '--', '/bin/true'])}, ` +
    `Object.entries(process.env).map(([k, v]) => k + '=' + v), [0, 1, 2]); setInterval(() => {}, 1000); ` +
    `process.on('SIGCHLD', () => { const w = a.wait(fd); if (!w) return; ` +
    `for (const f of ${JSON.stringify(reads)}) fs.readFileSync(f); for (const d of dirs) fs.rmdirSync(d); process.exit(w[0]) })`
  return { script }
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

/** Milliseconds of one spawn() of /bin/true to its end, started through `which`. */
async function timeSpawn(which) {
  const t = performance.now()
  const r = await withStarter(which, () =>
    spawn(resolved, '/bin/true', [], { stdio: 'ignore', context: { cwd: '/' } }),
  ).exited
  if (r.code !== 0) throw new Error(`spawn() exited ${r.code}`)
  return performance.now() - t
}

/** Each variant returns elapsed milliseconds for one run of /bin/true. */
const variants = [
  {
    name: 'cordon-exec (precompiled plan)',
    exec: true,
    run: () => timeSync(launcher, [planFile, '--', '/bin/true']),
  },
  ...values.also.map((spec) => {
    const at = spec.indexOf('=')
    if (at < 1) throw new Error(`--also: expected NAME=PATH, got \`${spec}\``)
    const path = spec.slice(at + 1)
    return {
      name: `cordon-exec ${spec.slice(0, at)} (${path})`,
      exec: true,
      run: () => timeSync(path, [planFile, '--', '/bin/true']),
    }
  }),
  { name: 'spawn() from a running Node process', spawn: true, run: () => timeSpawn('addon') },
  // spawn() as it started the launcher before the addon (and still does where it is not built).
  {
    name: 'spawn() through child_process (no addon)',
    spawnChildProcess: true,
    run: () => timeSpawn('child_process'),
  },
  // What spawn() cannot go below: the same launcher started the way spawn() starts it, with its
  // channel (the plan in, the events out on fd 3), read to its end, none of spawn()'s own work.
  {
    name: `floor of spawn(): cordon-exec started as spawn() does (${starter()}), with its channel`,
    floor: true,
    run: () =>
      new Promise((resolve, reject) => {
        const t = performance.now()
        const { process: child, channel } = startLauncher(
          launcher,
          ['--plan-fd', '3', '--events-fd', '3', '--go-fd', '3', '--', '/bin/true'],
          ['ignore', 'ignore', 'ignore'],
          process.env,
          planBytes,
        )
        child.once('error', reject)
        channel.go()
        channel.read(
          () => {},
          () => {},
        )
        child.once('close', (code) =>
          code === 0 ? resolve(performance.now() - t) : reject(new Error(`cordon-exec exited ${code}`)),
        )
      }),
  },
  {
    name: 'cordon run (CLI, node start included)',
    cli: true,
    run: () => timeSync(process.execPath, [cli, 'run', '--policy', policyFile, '--', '/bin/true']),
  },
  // The everyday form, `cordon run -- COMMAND` in a project directory: after its first run it
  // starts from the plan that run filed (src/cli/run-fast.ts), which the warm-up below made.
  {
    name: 'cordon run -- /bin/true (CLI, default profile, its plan filed)',
    cliFiled: true,
    run: () => timeSync(process.execPath, [cli, 'run', '--', '/bin/true'], projectDir),
  },
  // What Node's own start costs, and the CLI's load alone: the CLI row is judged against these.
  { name: 'node -e 0', node: true, run: () => timeSync(process.execPath, ['-e', '0']) },
  // The least any Node CLI that starts the launcher costs: Node's start, one start of
  // cordon-exec with the plan compiled already (by cordon's addon, as `cordon run` does, else
  // by child_process), and the launcher's own run.
  {
    name: `floor of cordon run: node starting cordon-exec (precompiled plan) by ${starter() === 'addon' ? "cordon's addon" : 'child_process.spawn'}`,
    cliFloor: true,
    run: () => timeSync(process.execPath, ['-e', nodeStartingLauncher(planFile)]),
  },
  // The same for the filed row: Node, then cordon-exec on the plan the default profile compiles in
  // the same project directory (without the run's cgroup, which cordon-exec does not make).
  {
    name: "floor of the filed run: node starting cordon-exec on the default profile's plan (no cgroup)",
    cliFiledFloor: true,
    run: () => timeSync(process.execPath, ['-e', nodeStartingLauncher(defaultPlanFile)], projectDir),
  },
  // The same with the run's cgroup made, joined, read and removed by the least JavaScript:
  // what a filed run's supervisor cannot go below (root only: plain users' runs compile).
  ...(supervised
    ? [
        {
          name: 'floor of a supervised filed run: node making the run cgroup, starting cordon-exec in it, removing it',
          cliSupervisedFloor: true,
          run: () => timeSync(process.execPath, ['-e', supervised.script], projectDir),
        },
      ]
    : []),
  // What a `cordon run` that skipped the policy and its compile (a plan found compiled in a cache)
  // could not go below: Node, spawn() and its run bookkeeping bundled with their code cache,
  // the plan read, run and reported (bench/cached-plan-run.mjs).
  ...(cachedPlan
    ? [
        {
          name: 'floor of a cordon run with its plan cached: node running a compiled plan by spawn() (bundled, code cache)',
          cachedPlanCli: true,
          run: () => timeSync(process.execPath, ['-e', cachedPlan.script]),
        },
      ]
    : []),
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

/** bench/cached-plan-run.mjs bundled as the build bundles `cordon run` (one CommonJS file, its
 * import.meta.url the run bundle's, so that it finds the launcher and the addon), its V8 code
 * cache warmed by one run, and the plan as JSON; undefined without esbuild. */
function cachedPlanCli() {
  let esbuild
  try {
    esbuild = createRequire(import.meta.url)('esbuild')
  } catch {
    return undefined
  }
  const file = join(planDir, 'cached-plan-run.cjs')
  const runBundle = join(root, 'build', 'src', 'cli-bundle', 'run.cjs')
  esbuild.buildSync({
    entryPoints: [join(root, 'bench', 'cached-plan-run.mjs')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(runBundle).href) },
    outfile: file,
    logLevel: 'error',
  })
  const json = join(planDir, 'true.plan.json')
  // The holder's own value: a Buffer (a BPF program) reaches a replacer as its toJSON().
  writeFileSync(
    json,
    JSON.stringify(plan, function (key, v) {
      const raw = this[key]
      if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw).toString('base64') }
      return typeof raw === 'bigint' ? { $bigint: String(raw) } : v
    }),
  )
  const argv = [json, '/bin/true']
  const bin = JSON.stringify(join(root, 'bin', 'cordon.cjs'))
  const warm = spawnSync(
    process.execPath,
    ['-e', `require(${bin}).warmCodeCache(${JSON.stringify(file)}, [${JSON.stringify(argv)}])`],
    { env, stdio: ['ignore', 'ignore', 'inherit'], cwd: '/tmp' },
  )
  if (warm.status !== 0) throw new Error(`warming ${file}'s code cache: exit ${warm.status ?? warm.signal}`)
  const codeCache = JSON.stringify(join(root, 'bin', 'code-cache.cjs'))
  return {
    script: `require(${codeCache}).load(${JSON.stringify(file)}).exports.main(${JSON.stringify(argv)}).then((c) => process.exit(c))`,
  }
}

function timeSync(cmd, args, cwd = '/tmp') {
  return new Promise((resolve, reject) => {
    const t = performance.now()
    const child = spawnChild(cmd, args, { stdio: 'ignore', env, cwd })
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0 ? resolve(performance.now() - t) : reject(new Error(`${cmd} exited ${code}`)),
    )
  })
}

// CPU (user+sys, ms) of this process and of its waited-for children (/proc/self/stat cutime and
// cstime: clock ticks, so only the mean over many runs is meaningful).
const tick = 1000 / 100
const childrenCpu = () => {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return (Number(f[13]) + Number(f[14])) * tick
}
// Page faults (minor: first touches of memory) of this process and of its waited-for children
// (/proc/self/stat minflt and cminflt). A host fact as much as cordon's: what each costs differs
// by an order of magnitude between a VM and bare metal (README, "CLI start-up").
const faultCount = () => {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return Number(f[7]) + Number(f[8])
}
const samples = variants.map(() => [])
const cpu = variants.map(() => 0)
const faults = variants.map(() => 0)
for (let i = 0; i < 5; i++) for (const v of variants) await v.run() // warm caches
for (let i = 0; i < runs; i++) {
  for (const [k, v] of variants.entries()) {
    const own = process.cpuUsage()
    const kids = childrenCpu()
    const touched = faultCount()
    samples[k].push(await v.run())
    const d = process.cpuUsage(own)
    cpu[k] += (d.user + d.system) / 1000 + childrenCpu() - kids
    faults[k] += faultCount() - touched
  }
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
  cpuMs: Number((cpu[k] / runs).toFixed(2)),
  pageFaults: Math.round(faults[k] / runs),
}))
const cpuBase = bwrapIndex >= 0 ? cpu[bwrapIndex] : undefined
// Each cordon-exec row against bwrap in the same round, the median of those ratios: drift and
// load hit both sides of each pair alike.
const execVs =
  bwrapIndex >= 0
    ? variants.flatMap((v, k) =>
        v.exec
          ? [
              {
                name: v.name,
                vsBwrap: Number((median(samples[k]) / base).toFixed(3)),
                pairedVsBwrap: Number(
                  median(samples[k].map((x, i) => x / samples[bwrapIndex][i])).toFixed(3),
                ),
              },
            ]
          : [],
      )
    : []
const of = (key) => variants.findIndex((v) => v[key])
// spawn() against bwrap (issue 23: ≤ 1.0×), beside what it cannot go below.
const spawnVs = base
  ? {
      vsBwrap: Number((median(samples[of('spawn')]) / base).toFixed(2)),
      floorVsBwrap: Number((median(samples[of('floor')]) / base).toFixed(2)),
      cpuVsBwrap: Number((cpu[of('spawn')] / cpuBase).toFixed(2)),
      floorCpuVsBwrap: Number((cpu[of('floor')] / cpuBase).toFixed(2)),
      ownMs: Number((median(samples[of('spawn')]) - median(samples[of('floor')])).toFixed(2)),
      // Each round's spawn() over its spawn() through child_process: the addon's gain, paired.
      addonVsChildProcess: Number(
        median(samples[of('spawn')].map((x, i) => x / samples[of('spawnChildProcess')][i])).toFixed(3),
      ),
    }
  : undefined
// The CLI against Node's own start (issue 23: ≤ 1.3×, and ≤ 25 ms of cordon's own on top),
// beside what it cannot go below; wall and CPU (this loop's children: node, launcher, /bin/true).
const nodeMs = median(samples[of('node')])
const cliMs = median(samples[of('cli')])
const ratio = (a, b) => Number((a / b).toFixed(2))
const cliVsNode = {
  vsNode: ratio(cliMs, nodeMs),
  ownMs: Number((cliMs - nodeMs).toFixed(2)),
  floorVsNode: ratio(median(samples[of('cliFloor')]), nodeMs),
  cpuVsNode: ratio(cpu[of('cli')], cpu[of('node')]),
  floorCpuVsNode: ratio(cpu[of('cliFloor')], cpu[of('node')]),
  ...(cachedPlan ? { cachedPlanFloorVsNode: ratio(median(samples[of('cachedPlanCli')]), nodeMs) } : {}),
  filedVsNode: ratio(median(samples[of('cliFiled')]), nodeMs),
  filedOwnMs: Number((median(samples[of('cliFiled')]) - nodeMs).toFixed(2)),
  filedCpuVsNode: ratio(cpu[of('cliFiled')], cpu[of('node')]),
  filedFloorVsNode: ratio(median(samples[of('cliFiledFloor')]), nodeMs),
  filedOverFloorMs: Number(
    (median(samples[of('cliFiled')]) - median(samples[of('cliFiledFloor')])).toFixed(2),
  ),
  ...(supervised
    ? {
        supervisedFloorVsNode: ratio(median(samples[of('cliSupervisedFloor')]), nodeMs),
        filedOverSupervisedFloorMs: Number(
          (median(samples[of('cliFiled')]) - median(samples[of('cliSupervisedFloor')])).toFixed(2),
        ),
      }
    : {}),
}
if (values.json) {
  console.log(
    JSON.stringify({ version: 1, runs, rows, cli: cliVsNode, spawn: spawnVs, exec: execVs }, null, 2),
  )
} else {
  console.log(`start-to-exit of /bin/true, ${runs} interleaved runs, median (p90)\n`)
  console.log('| variant | median ms | p90 ms | vs bwrap | CPU ms | page faults |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.medianMs} | ${r.p90Ms} | ${r.vsBwrap ?? '-'}× | ${r.cpuMs} | ${r.pageFaults} |`,
    )
  console.log(
    `\ncordon run vs node -e 0: ${cliVsNode.vsNode}× (its floor: ${cliVsNode.floorVsNode}×; cordon's own: ${cliVsNode.ownMs} ms); ` +
      `CPU: ${cliVsNode.cpuVsNode}× (floor ${cliVsNode.floorCpuVsNode}×)` +
      (cachedPlan ? `; with its plan cached, at least: ${cliVsNode.cachedPlanFloorVsNode}×` : ''),
  )
  console.log(
    `cordon run -- /bin/true, its plan filed, vs node -e 0: ${cliVsNode.filedVsNode}× (cordon's own: ${cliVsNode.filedOwnMs} ms; ` +
      `its floor: ${cliVsNode.filedFloorVsNode}×, ${cliVsNode.filedOverFloorMs} ms above it` +
      (supervised
        ? `; supervised, with its cgroup: ${cliVsNode.supervisedFloorVsNode}×, ${cliVsNode.filedOverSupervisedFloorMs} ms above it`
        : '') +
      `); CPU: ${cliVsNode.filedCpuVsNode}×`,
  )
  if (spawnVs)
    console.log(
      `spawn() vs bwrap: ${spawnVs.vsBwrap}× (its floor: ${spawnVs.floorVsBwrap}×; spawn()'s own: ${spawnVs.ownMs} ms); ` +
        `CPU: ${spawnVs.cpuVsBwrap}× (floor ${spawnVs.floorCpuVsBwrap}×); ` +
        `with ${starter()} against child_process, paired: ${spawnVs.addonVsChildProcess}×`,
    )
  for (const e of execVs)
    console.log(`${e.name} vs bwrap: ${e.vsBwrap}× (paired by round: ${e.pairedVsBwrap}×)`)
}
