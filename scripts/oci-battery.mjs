// The escape battery (build/native/cordon-probes, static) inside a container that an engine
// starts with each given runtime; prints each probe's outcome side by side. The first runtime
// is the reference: a probe it blocks and another runtime lets through is marked `<`.
//
//   npm run build && node scripts/oci-battery.mjs --engine docker|podman|containerd \
//     --runtime runc --runtime /path/to/cordon-oci [--extra=ENGINE-OPTION]... [--json FILE]
//
// Root. Targets on the host (a process to ptrace and signal, a home directory) are set up here;
// the container has no network (each engine's "none"). Raw outcomes only: the judging with
// layers and policy promises is `cordon verify`'s (src/verify/), which knows cordon's policy.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { constants, homedir, tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const m = await import(join(root, 'build', 'test', 'conformance', 'oci-engines.js'))
const { PROBES: PROBE_TABLE } = await import(join(root, 'build', 'src', 'verify', 'battery.js'))
/** The arguments verify's probe table (src/verify/probes/) gives NAME on a host whose fixtures
 * are `fx` and whose prepared paths are none: the kernel tables, the TCP listener's port. */
function tableArgs(name, fx) {
  const args = []
  const add = (arg) => arg !== undefined && args.push(arg)
  const nothing = () => {}
  try {
    PROBE_TABLE.find((p) => p.name === name)?.targets?.({
      fx,
      paths: {},
      add,
      skip: nothing,
      unsupported: nothing,
    })
  } catch {
    return [] // it needs a fixture `fx` does not have: not one of these
  }
  return args
}
const ROOT_ONLY_FILES = tableArgs('root-only-read', {})
/** The port allowlist's side doors: each aims at the host's TCP listener, as `tcp-host` does. */
const TCP_SIDE_DOORS = new Set(
  PROBE_TABLE.filter((p) => p.name !== 'tcp-host' && tableArgs(p.name, { tcpPort: 9 }).join() === '9').map(
    (p) => p.name,
  ),
)
const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'docker' },
    runtime: { type: 'string', multiple: true, default: [] },
    json: { type: 'string' },
    // An engine option for every run, e.g. --extra=--security-opt --extra=no-new-privileges.
    extra: { type: 'string', multiple: true, default: [] },
  },
})
const usage = 'usage: node scripts/oci-battery.mjs --engine docker|podman|containerd --runtime PATH...'
if (!['docker', 'podman', 'containerd'].includes(values.engine) || !values.runtime.length) {
  console.error(usage)
  process.exit(2)
}
const missing = m.engineMissing(values.engine)
if (missing) {
  console.error(`oci-battery: ${values.engine}: ${missing}`)
  process.exit(2)
}
const runtimes = values.runtime.map(
  (r) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', r], { encoding: 'utf8' }).stdout.trim() || r,
)
const PROBES = join(root, 'build', 'native', 'cordon-probes')

// A host process for the pid-namespace probes: a container that sees it could attack it.
const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' })
const labels = spawnSync(PROBES, ['--list'], { encoding: 'utf8' })
  .stdout.split('\n')
  .filter(Boolean)
  .flatMap((p) => {
    switch (p) {
      case 'ptrace-host':
      case 'signal-host':
      case 'process-control':
      case 'proc-host-write':
        return [`${p}=${sleeper.pid}`]
      case 'read-home':
        return [`${p}=${homedir()}`]
      case 'write-outside':
        return [`${p}=/sys/fs/cgroup/cordon-battery`, `${p}=/proc/sys/kernel/cordon-battery`]
      case 'dev-write':
        return [`${p}=/dev/.cordon-battery`]
      case 'root-only-read':
        return ROOT_ONLY_FILES.map((f) => `${p}=${f}`)
      case 'host-device':
        return ['/dev/mem', '/dev/kmsg', '/dev/vda', '/dev/sda'].map((d) => `${p}=${d}`)
      case 'setuid-plant':
        return [`${p}=/tmp`]
      case 'host-tmp-write':
        return [`${p}=/tmp/.cordon-battery`]
      case 'unix-socket':
        return [`${p}=/run/cordon-battery.sock`]
      case 'abstract-unix':
        return [`${p}=cordon-battery`]
      case 'fork-bomb':
        return [`${p}=1000`]
      case 'memory':
        return [`${p}=256`]
      // No network in the container: the targets would be the container's own loopback.
      case 'tcp-host':
      case 'udp-host':
        return [`${p}=9`]
      case 'setuid': // needs a setuid-root fixture prepared on the host (cordon verify does it)
        return []
      default:
        return TCP_SIDE_DOORS.has(p) ? [`${p}=9`] : [p]
    }
  })

const work = mkdtempSync(join(tmpdir(), 'cordon-oci-battery-'))
const table = new Map(labels.map((l) => [l, []]))
try {
  const rootfs = join(work, 'rootfs')
  m.writeRootfs(rootfs, [{ src: PROBES, dest: 'usr/local/bin/cordon-probes' }])
  const rootfsTar = join(work, 'rootfs.tar')
  writeFileSync(rootfsTar, m.tarOf(rootfs))
  const ociArchive = join(work, 'image.oci.tar')
  m.writeOciArchive(rootfs, ociArchive, work)
  const named = Object.fromEntries(runtimes.map((r, i) => [`rt${i}`, r]))
  const engine =
    values.engine === 'docker'
      ? await m.startDocker(work, named, rootfsTar)
      : values.engine === 'podman'
        ? m.startPodman(work, rootfsTar)
        : await m.startContainerd(work, ociArchive)
  try {
    for (const rt of runtimes) {
      // fork-bomb and memory run alone (as cordon verify runs them), the rest in one container.
      const alone = (l) => /^(fork-bomb|memory)=/.test(l)
      for (const group of [labels.filter((l) => !alone(l)), ...labels.filter(alone).map((l) => [l])]) {
        const r = engine.run(rt, `exec /usr/local/bin/cordon-probes ${group.join(' ')}`, values.extra)
        const seen = new Set()
        for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
          const raw = JSON.parse(line)
          seen.add(raw.probe)
          table.get(raw.probe)?.push(raw)
        }
        for (const l of group.filter((x) => !seen.has(x)))
          table.get(l).push({
            probe: l,
            outcome: 'error',
            detail: `no result (exit ${r.status}): ${r.stderr.trim().slice(-160)}`,
          })
      }
    }
  } finally {
    await engine.stop()
  }
} finally {
  sleeper.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
}

const show = (raw) =>
  raw.outcome === 'blocked'
    ? `blocked ${raw.errno ? errnoName(raw) : raw.signal ? `sig ${raw.signal}` : ''}`.trim()
    : raw.outcome
const ERRNO = Object.fromEntries(Object.entries(constants.errno).map(([name, n]) => [n, name]))
const errnoName = (raw) => ERRNO[raw.errno] ?? `errno ${raw.errno}`
const width = Math.max(...labels.map((l) => l.length))
console.log(`${values.engine}: escape battery per runtime (first is the reference)`)
console.log(['probe'.padEnd(width), ...runtimes.map((r) => basename(r).padEnd(22))].join('  '))
let worse = 0
for (const [label, results] of table) {
  const [ref, ...others] = results
  const mark = others.some((o) => ref?.outcome === 'blocked' && o.outcome !== 'blocked') ? '  <' : ''
  if (mark) worse++
  console.log([label.padEnd(width), ...results.map((r) => show(r).padEnd(22))].join('  ') + mark)
}
const blocked = runtimes.map(
  (_, i) => [...table.values()].filter((rs) => rs[i]?.outcome === 'blocked').length,
)
console.log(`blocked: ${runtimes.map((r, i) => `${basename(r)} ${blocked[i]}/${labels.length}`).join(', ')}`)
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify(
      { version: 1, engine: values.engine, runtimes, probes: Object.fromEntries(table) },
      null,
      2,
    ) + '\n',
  )
process.exit(worse ? 1 : 0)
