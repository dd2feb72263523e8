// Start-up overhead of cordon-oci against runc under the same engine: `RUNTIME run` of a bundle
// directly, `ctr run --runc-binary`, `podman --runtime` and `docker run --runtime`, each
// running `true` in a busybox-static container. Runtimes alternate within each round, so load
// on the machine falls on all alike; prints medians of wall-clock time and of CPU time, and
// their ratios to runc (target: <= 1.0x runc). "cordon-oci-node" is the TypeScript
// runtime alone (bin/cordon-oci.cjs: the bundle and its code cache, Node's default flags) serving
// every command, as before the C entry point.
//
// CPU time is the cpuacct usage of a group holding this process, the engine daemons it starts
// (and their shims, and each runtime they run) and, through each engine's cgroup-parent option,
// the containers: the whole cost of one container's start and removal, client included.
// `calls` lists the runtime commands each engine ran for one container.
//
//   npm run build && node bench/oci.mjs [--cordon PATH] [--also NAME=PATH]... [--runs N]
//                                      [--only direct,ctr,podman,docker] [--no-node]
// --also adds another cordon-oci build (a copy of the package before a change, say) to the same
// interleaved rounds, so before and after are measured side by side under the same load.
// Root. Engines that are not installed are skipped with the reason.
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const m = await import(join(root, 'build', 'test', 'conformance', 'oci-engines.js'))
const { values } = benchArgs(import.meta.url, {
  cordon: { type: 'string', default: process.env.CORDON_OCI || join(root, 'bin', 'cordon-oci') },
  runs: { type: 'string', default: '15' },
  only: { type: 'string', default: 'direct,ctr,podman,docker' },
  also: { type: 'string', multiple: true, default: [] },
  'no-node': { type: 'boolean', default: false },
})
const also = values.also.map((a) => {
  const eq = a.indexOf('=')
  if (eq <= 0) throw new Error(`--also: expected NAME=PATH, got ${a}`)
  return [a.slice(0, eq), a.slice(eq + 1)]
})
const runs = Number(values.runs)
const runc = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim()
const runtimes = {
  runc,
  'cordon-oci': values.cordon,
  ...Object.fromEntries(also),
  ...(values['no-node'] ? {} : { 'cordon-oci-node': join(root, 'bin', 'cordon-oci.cjs') }),
}
const only = values.only.split(',')
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

// The measuring group, on the cpuacct hierarchy only (its usage counts every descendant).
const GROUP = `cordon-oci-bench-${process.pid}`
const ACCT = ['/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup/cpu,cpuacct'].find((d) =>
  existsSync(`${d}/cpuacct.usage`),
)
const acct = ACCT ? join(ACCT, GROUP) : undefined
if (acct) {
  mkdirSync(acct)
  writeFileSync(join(acct, 'cgroup.procs'), String(process.pid))
}
const cpuNs = () => (acct ? Number(readFileSync(join(acct, 'cpuacct.usage'), 'utf8')) : NaN)

/** N interleaved rounds of `start(runtime)`; each must succeed. */
function measure(label, start) {
  const wall = Object.fromEntries(Object.keys(runtimes).map((r) => [r, []]))
  const cpu = Object.fromEntries(Object.keys(runtimes).map((r) => [r, []]))
  start(runc) // warm the page cache and the engine's image
  for (let i = 0; i < runs; i++)
    for (const [name, path] of i % 2 ? Object.entries(runtimes).reverse() : Object.entries(runtimes)) {
      const before = cpuNs()
      const r = start(path)
      const used = (cpuNs() - before) / 1e6
      if (r.status !== 0) throw new Error(`${label} ${name}: exit ${r.status}: ${r.stderr.slice(-500)}`)
      wall[name].push(r.ms)
      cpu[name].push(used)
    }
  const base = { wall: median(wall.runc), cpu: median(cpu.runc) }
  for (const name of Object.keys(runtimes)) {
    const w = median(wall[name])
    const c = median(cpu[name])
    console.log(
      `${label.padEnd(8)} ${name.padEnd(24)} wall ${w.toFixed(0).padStart(5)} ms ${(w / base.wall).toFixed(2)}x` +
        `   CPU ${c.toFixed(0).padStart(5)} ms ${(c / base.cpu).toFixed(2)}x`,
    )
  }
}

/** The runtime commands one container costs: a wrapper logs each call, then runs runc. */
function calls(label, work, start, wrapper, log) {
  rmSync(log, { force: true })
  const r = start(wrapper)
  if (r.status !== 0) throw new Error(`${label} calls: exit ${r.status}: ${r.stderr.slice(-500)}`)
  const withValue = new Set(['--root', '--log', '--log-format', '--criu', '--rootless'])
  const names = readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const a = line.split(' ')
      let i = 0
      while (i < a.length && a[i].startsWith('-')) i += withValue.has(a[i]) && !a[i].includes('=') ? 2 : 1
      return a[i]
    })
  const counted = names.reduce((acc, n) => acc.set(n, (acc.get(n) ?? 0) + 1), new Map())
  console.log(
    `${label.padEnd(8)} calls: ${[...counted].map(([n, k]) => (k > 1 ? `${n}×${k}` : n)).join(', ')}`,
  )
}

const work = mkdtempSync(join(tmpdir(), 'cordon-oci-bench-'))
try {
  const rootfs = join(work, 'bundle', 'rootfs')
  m.writeRootfs(rootfs)
  const rootfsTar = join(work, 'rootfs.tar')
  writeFileSync(rootfsTar, m.tarOf(rootfs))
  const ociArchive = join(work, 'image.oci.tar')
  m.writeOciArchive(rootfs, ociArchive, work)
  const callLog = join(work, 'calls.log')
  const wrapper = join(work, 'runc-logged')
  writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> ${callLog}\nexec ${runc} "$@"\n`)
  chmodSync(wrapper, 0o755)
  console.log(
    `median of ${runs} starts of \`true\`, runtimes interleaved; CPU: ${acct ? 'cpuacct usage of the engine, runtime and container' : 'no cpuacct hierarchy, not measured'}`,
  )

  if (only.includes('direct')) {
    const bundle = join(work, 'bundle')
    spawnSync(runc, ['spec', '--bundle', bundle])
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
    spec.process.terminal = false
    spec.process.args = ['/bin/true']
    spec.linux.cgroupsPath = `/${GROUP}/direct`
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec))
    let n = 0
    const state = join(work, 'state')
    measure('direct', (rt) =>
      m.runCmd(rt, ['--root', state, 'run', '--bundle', bundle, `bench-${process.pid}-${n++}`]),
    )
  }
  for (const name of ['ctr', 'podman', 'docker'].filter((e) => only.includes(e))) {
    const engineName = name === 'ctr' ? 'containerd' : name
    const missing = m.engineMissing(engineName)
    if (missing) {
      console.log(`${name.padEnd(8)} skipped: ${missing}`)
      continue
    }
    const engine =
      name === 'docker'
        ? await m.startDocker(work, { ...runtimes, logged: wrapper }, rootfsTar)
        : name === 'podman'
          ? m.startPodman(work, rootfsTar)
          : await m.startContainerd(work, ociArchive)
    // The containers' groups under the measuring one.
    const parent = name === 'ctr' ? ['--cgroup', `/${GROUP}/ctr`] : ['--cgroup-parent', `/${GROUP}`]
    try {
      // Each engine's defaults (Docker and Podman leave no_new_privs off; cordon-oci holds
      // CAP_SYS_ADMIN until execve for Landlock then), the same for every runtime.
      calls(name, work, (rt) => engine.run(rt, 'true', parent), wrapper, callLog)
      measure(name, (rt) => engine.run(rt, 'true', parent))
    } finally {
      await engine.stop()
    }
  }
} finally {
  // dockerd stopped under load may leave its data root's bind mount behind: unmount first.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p?.startsWith(`${work}/`))
  for (const p of mounts.reverse()) spawnSync('umount', ['-l', p])
  rmSync(work, { recursive: true, force: true })
  if (ACCT) {
    writeFileSync(join(ACCT, 'cgroup.procs'), String(process.pid))
    // The group on every hierarchy (runc leaves the parents it made), deepest first.
    for (const h of [
      'cpuacct',
      'cpu',
      'cpuset',
      'blkio',
      'devices',
      'freezer',
      'memory',
      'pids',
      'systemd',
      'unified',
    ])
      for (const d of ['ctr', 'direct', 'conmon', ''])
        try {
          rmdirSync(join('/sys/fs/cgroup', h, GROUP, d))
        } catch {}
  }
}
