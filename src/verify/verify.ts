// `cordon verify`: runs the probe battery (native/attack.c) inside a sandbox built from the
// policy, with real targets on the host (fixtures.ts), then checks on the host side what
// actually got through.
import { callerCwd } from '../host/path-bytes.js'
import { existsSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { callerContext } from '../host/caller.js'
import { enforcedSeccomp } from '../policy/effective.js'
import { sandboxIdentity } from '../plan/compile.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { run } from '../run/run.js'
import { type Backend, runOnRuntime } from '../backends/runtime.js'
import { archByName, entryPoints } from '../seccomp/arch.js'
import { RET } from '../seccomp/bpf.js'
import { evaluateSpec } from '../seccomp/reference.js'
import type { SeccompSpec } from '../seccomp/model.js'
import { errnoName } from '../seccomp/resolve.js'
import { syscallTable } from '../seccomp/tables.js'
import { homedir } from 'node:os'
import { cgroupAccess } from '../cgroup/select.js'
import { probeKernel } from '../host/probe.js'
import {
  MEMORY_PROBE_LIMIT,
  PIDS_PROBE_LIMIT,
  PROBES,
  ROOT_ONLY_FILES,
  TCP_SIDE_DOORS,
  type ProbeContext,
  type ProbeSpec,
} from './battery.js'
import {
  DEVICE_NODES,
  deviceSignature,
  type Fixtures,
  placeSuidFixture,
  plantedSetuid,
  prepare,
  type ProbePaths,
  shareWithSandbox,
  suidFixturePath,
  unlistedDevices,
  withProbes,
} from './fixtures.js'

export type Outcome = 'blocked' | 'escaped' | 'error' | 'skipped'

export interface ProbeResult {
  probe: string
  attack: string
  /** The host path or endpoint it aimed at, when it had one. */
  target?: string
  outcome: Outcome
  /** The policy promises to stop it (false: the policy allows it, see `reason`). */
  expected: boolean
  reason?: string
  /** The layer that stopped it. */
  by?: string
  call?: string
  errno?: string
  detail?: string
}

export interface Verification {
  version: 1
  results: ProbeResult[]
  /** Probes the policy should stop that got through (or could not run). */
  failures: number
}

interface RawResult {
  probe: string
  outcome: 'blocked' | 'escaped' | 'error'
  call?: string
  errno?: number
  signal?: number
  detail?: string
}

/** True when the filter's answer to `call` (with the probe's arguments) is what the probe saw:
 * its errno, or SIGSYS from a kill or trap. */
function seccompStopped(resolved: SeccompSpec, spec: ProbeSpec, raw: RawResult): boolean {
  const arch = archByName(spec.arch ?? process.arch)
  const nr = arch && raw.call ? syscallTable(arch.name)[raw.call] : undefined
  if (!arch || nr === undefined) return false
  const args = [...(spec.args?.[raw.call!] ?? []), 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6)
  const value = evaluateSpec(resolved, entryPoints(process.arch), arch.audit, nr, args)
  const action = (value & 0xffff0000) >>> 0
  if (action === RET.ALLOW || action === RET.LOG || action === RET.USER_NOTIF) return false
  if (action === RET.ERRNO) return raw.errno === (value & 0xffff)
  return raw.signal === 31 || raw.errno !== undefined
}

function attribute(filter: SeccompSpec, spec: ProbeSpec, raw: RawResult): string {
  const key = raw.signal !== undefined ? `signal ${raw.signal}` : raw.errno ? errnoName(raw.errno) : 'none'
  if (seccompStopped(filter, spec, raw)) return 'seccomp'
  return spec.layers[key] ?? key
}

export interface VerifyOptions {
  cwd?: string
  /** Run only these probes (names). */
  only?: readonly string[]
  onProgress?: (done: number, total: number) => void
  /** Run the battery through an OCI runtime instead of cordon's launcher (default native). */
  backend?: Backend
}

/** The argv of the battery (one label per attack and target), the host target of each label,
 * and the probes this caller cannot run. */
function plan(
  policy: ResolvedPolicy,
  fx: Fixtures,
  paths: ProbePaths,
  ctx: ProbeContext,
  only: readonly string[] | undefined,
): { argv: string[]; targets: Map<string, string>; skipped: ProbeResult[] } {
  const argv: string[] = []
  const targets = new Map<string, string>()
  const skipped: ProbeResult[] = []
  for (const p of PROBES.filter((p) => !only || only.includes(p.name))) {
    const add = (arg: string | undefined, target?: string) => {
      const label = arg === undefined ? p.name : `${p.name}=${arg}`
      argv.push(label)
      if (target) targets.set(label, target)
    }
    const skip = (reason: string) =>
      skipped.push({ probe: p.name, attack: p.attack, outcome: 'skipped', expected: false, reason })
    switch (p.name) {
      case 'ptrace-host':
      case 'signal-host':
      case 'process-control':
        add(String(fx.sleeper.pid), `host pid ${fx.sleeper.pid}`)
        break
      case 'read-home': {
        // A bind below the home (a project in ~/src) makes the view create the directories on
        // its way there: those names are the policy's, any other entry is the host's home.
        const inside = policy.namespaces.mount
          ? policy.filesystem.flatMap((e) =>
              e.kind === 'bind' && e.dest.startsWith(`${ctx.home}/`)
                ? [e.dest.slice(ctx.home.length + 1).split('/')[0]!]
                : [],
            )
          : []
        const names = [...new Set(inside)]
        // `//` cannot occur in the normalised home path; names cannot hold `/`.
        add(names.length ? `${ctx.home}//${names.join('/')}` : ctx.home, ctx.home)
        break
      }
      case 'write-outside':
        for (const t of fx.writeTargets) add(t, dirname(t))
        break
      case 'dev-write':
        add(devTarget(), '/dev')
        break
      case 'tcp-host':
        add(String(fx.tcpPort), `127.0.0.1:${fx.tcpPort}/tcp`)
        break
      case 'udp-host':
        add(String(fx.udpPort), `127.0.0.1:${fx.udpPort}/udp`)
        break
      case 'abstract-unix':
        add(fx.abstractName, `@${fx.abstractName}`)
        break
      case 'i386-entry':
        // Without IA-32 emulation int 0x80 faults before any filter is reached: there is no
        // entry to attack, and nothing about the policy to learn from the fault.
        if (ctx.i386Entry === false)
          skip(
            'not applicable on this host: int 0x80 faults outside any sandbox (no IA-32 emulation; see cordon check)',
          )
        else add(undefined)
        break
      case 'setuid':
        if (paths.suid) add(paths.suid, 'a setuid/setgid-root fixture')
        else skip('preparing a setuid-root file needs root')
        break
      case 'setuid-plant':
        add(paths.plantDir, 'a writable bind of a host directory')
        break
      case 'device-metadata': {
        // Where the policy lets it through (host root acknowledged) the attack would really
        // change the host's /dev/null: it is not run, only reported.
        const allowed = p.notExpected?.(policy, ctx, p.name)
        if (allowed) skip(`${allowed}; not run, since it would change the host's device nodes`)
        else add(undefined, `host ${DEVICE_NODES.join(', ')}`)
        break
      }
      case 'root-only-read':
        if (paths.secret) add(paths.secret, 'a 0600 root-owned host file')
        else skip('preparing a root-only file needs root')
        for (const f of ROOT_ONLY_FILES) add(f, f)
        break
      case 'proc-host-write':
        add(String(fx.sleeper.pid), `/proc/${fx.sleeper.pid}/oom_score_adj`)
        break
      case 'host-device': {
        const devices = unlistedDevices()
        for (const d of devices) add(d, d)
        if (!devices.length) skip('this host has none of the devices the probe tries')
        break
      }
      case 'host-tmp-write':
        add(fx.tmpTarget, '/tmp')
        break
      case 'unix-socket':
        add(fx.socketPath, fx.socketPath)
        break
      case 'fork-bomb':
        // Past the (probe's) limit when one holds; a bounded 256 processes when none does.
        add(
          String(
            policy.limits.pids !== undefined ? Math.min(policy.limits.pids, PIDS_PROBE_LIMIT) + 50 : 256,
          ),
        )
        break
      case 'memory':
        // Past the limit when one holds; a bounded 256 MiB (proof, not harm) when none does.
        add(
          String(
            policy.limits.memory !== undefined && !p.notExpected?.(policy, ctx, p.name)
              ? Math.ceil(Math.min(policy.limits.memory, MEMORY_PROBE_LIMIT) / 2 ** 20) + 128
              : 256,
          ),
        )
        break
      default:
        // The port allowlist's side doors aim at the tcp-host listener.
        if (TCP_SIDE_DOORS.has(p.name)) add(String(fx.tcpPort), `127.0.0.1:${fx.tcpPort}/tcp`)
        else add(undefined)
    }
  }
  return { argv, targets, skipped }
}

/** The file dev-write tries to leave in the host's /dev (removed as soon as it is checked). */
const devTarget = () => `/dev/.cordon-verify-${process.pid}`

interface Ending {
  reason: string
  code: number
}

/** The policy as one probe's sandbox runs it: the resource probes check the policy's limit
 * setting under a small one of verify's own when the policy's is larger (the same cgroup file,
 * or RLIMIT_NPROC, at any size), sparing the host gigabytes of memory and thousands of forks. */
function probeLimits(policy: ResolvedPolicy, label: string): ResolvedPolicy {
  const limits = policy.limits
  if (label.startsWith('memory') && limits.memory !== undefined)
    return { ...policy, limits: { ...limits, memory: Math.min(limits.memory, MEMORY_PROBE_LIMIT) } }
  if (label.startsWith('fork-bomb') && limits.pids !== undefined)
    return { ...policy, limits: { ...limits, pids: Math.min(limits.pids, PIDS_PROBE_LIMIT) } }
  return policy
}

/** Runs the labels in sandboxes: most in one, each probe that exhausts a limit or needs the
 * setuid fixture in one of its own. Returns the probes' output and how each sandbox ended. */
async function runBattery(
  policy: ResolvedPolicy,
  fx: Fixtures,
  argv: string[],
  cwd: string,
  backend: Backend,
  onProgress?: (done: number, total: number) => void,
): Promise<{ stdout: string; endings: Map<string, Ending> }> {
  // A probe that hangs must not hang verify: a wall-clock limit unless the policy has one.
  const bounded = (p: ResolvedPolicy) => ({ ...p, limits: { timeoutMs: 120_000, ...p.limits } })
  // A probe that exhausts a limit can take the whole sandbox down (a fork bomb's processes
  // fill a small memory limit; gVisor's kernel dies when the host refuses it a thread): each
  // such probe gets a run of its own. So does the setuid probe, so that the setuid fixture
  // exists only for the milliseconds of its own run.
  // The device probe too, so that its host stat brackets only its own milliseconds: on a busy
  // host something else may touch /dev/null.
  const alone = (label: string) => /^(fork-bomb|memory|setuid|device-metadata)(=|$)/.test(label)
  const groups = [argv.filter((l) => !alone(l)), ...argv.filter(alone).map((l) => [l])].filter(
    (g) => g.length,
  )
  const endings = new Map<string, Ending>()
  const outputs = new Map<string[], string>()
  const runGroup = async (group: string[]) => {
    const label = group[0]!
    const suid = label.startsWith('setuid=') ? placeSuidFixture(fx) : undefined
    if (label === 'device-metadata') for (const d of DEVICE_NODES) fx.devices.set(d, deviceSignature(d))
    try {
      const { policy: sandboxed, paths } = withProbes(policy, fx, suid?.path)
      const ran =
        backend === 'native'
          ? await run(
              { kind: 'resolved', policy: bounded(probeLimits(sandboxed, label)) },
              paths.bin,
              group,
              {
                context: { cwd },
                reject: false,
              },
            )
          : await runOnRuntime(bounded(probeLimits(sandboxed, label)), backend, [paths.bin, ...group], {
              cwd,
            })
      outputs.set(group, ran.stdout)
      for (const l of group) endings.set(l, ran)
      onProgress?.(endings.size, argv.length)
    } finally {
      suid?.remove()
    }
  }
  // The shared sandbox and the resource probes touch nothing of each other's (each its own
  // cgroup, the probes' limits small): they run at once. The setuid fixture and the device
  // nodes' host stat stay bracketed by their own runs, after. The OCI runtimes run one at a time.
  const together = backend === 'native' ? groups.filter((g) => /^(fork-bomb|memory)(=|$)/.test(g[0]!)) : []
  await Promise.all([
    (async () => {
      for (const group of groups) if (!together.includes(group)) await runGroup(group)
    })(),
    ...together.map(runGroup),
  ])
  // In argv order, whatever finished first.
  const stdout = groups.map((g) => outputs.get(g) ?? '').join('')
  return { stdout, endings }
}

/** What reached the host decides, not what the probe saw: the outcome and, when the probe's
 * call succeeded but nothing landed, the layer that kept it inside. */
function hostVerdict(
  name: string,
  label: string,
  raw: RawResult,
  fx: Fixtures,
  spec: ProbeSpec,
  backend: Backend,
): { outcome: Outcome; by?: string; detail?: string } | undefined {
  const kept = (landed: boolean, layer: string | undefined, detail?: string) => ({
    outcome: (landed ? 'escaped' : 'blocked') as Outcome,
    ...(!landed && raw.outcome === 'escaped' && layer ? { by: layer } : {}),
    ...(landed && detail ? { detail } : {}),
  })
  switch (name) {
    case 'write-outside':
      return kept(existsSync(label.slice(name.length + 1)), spec.layers.private)
    case 'dev-write': {
      const target = label.slice(name.length + 1)
      const landed = existsSync(target)
      if (landed) rmSync(target, { force: true })
      return kept(landed, spec.layers.private)
    }
    case 'udp-host':
      return kept(fx.udpReceived, undefined)
    case 'host-tmp-write':
      return kept(existsSync(fx.tmpTarget), spec.layers.private)
    case 'host-device':
      // gVisor answers opens of its own /dev (fuse, tun) itself: no host device was opened.
      return backend === 'gvisor' ? kept(false, spec.layers.own) : undefined
    case 'setuid-plant': {
      const planted = plantedSetuid(fx)
      return kept(
        planted.length > 0,
        spec.layers.stripped,
        `setuid/setgid on the host: ${planted.join(', ')}`,
      )
    }
    case 'device-metadata': {
      // The sandbox changed a host node when a call got through and the node changed: a call
      // that got through on the sandbox's own nodes leaves the host's alone, and a change while
      // every call failed came from elsewhere on the host — neither claims an escape.
      const changed = DEVICE_NODES.filter((d) => deviceSignature(d) !== fx.devices.get(d))
      if (raw.outcome !== 'escaped' && changed.length)
        return {
          outcome: 'error',
          detail: `every call failed, yet ${changed.join(', ')} changed during the run: something else on the host changed it; run again`,
        }
      return kept(
        raw.outcome === 'escaped' && changed.length > 0,
        spec.layers.private,
        `changed on the host: ${changed.join(', ')}`,
      )
    }
    default:
      return undefined
  }
}

/** Whether this host has the i386 entry (the launcher's probe); null when it cannot tell. */
function i386Entry(): boolean | null {
  try {
    return probeKernel().i386Entry
  } catch {
    return null
  }
}

export async function verify(policy: ResolvedPolicy, options: VerifyOptions = {}): Promise<Verification> {
  const cwd = options.cwd ?? callerCwd()
  const home = homedir()
  const uid = process.getuid?.() ?? 0
  const cgroup = cgroupAccess(uid)
  const filter = enforcedSeccomp(policy)
  // Nothing that can throw between prepare and try: the fixtures go in the finally.
  const fx = await prepare(policy, home, cwd)
  try {
    const backend = options.backend ?? 'native'
    const ctx: ProbeContext = { home, tcpPort: fx.tcpPort, uid, cgroup, backend, i386Entry: i386Entry() }
    if (!policy.namespaces.mount) {
      const ids = sandboxIdentity(
        policy,
        callerContext(),
        policy.user.uid ?? uid,
        policy.user.gid ?? process.getgid?.() ?? 0,
      )
      shareWithSandbox(fx, ids.uid, ids.gid)
    }
    const { paths } = withProbes(policy, fx, uid === 0 ? suidFixturePath(fx) : undefined)
    const { argv, targets, skipped } = plan(policy, fx, paths, ctx, options.only)
    options.onProgress?.(0, argv.length)
    const { stdout, endings } = await runBattery(policy, fx, argv, cwd, backend, options.onProgress)
    const raws = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as RawResult)
    await new Promise((r) => setTimeout(r, 50)) // a datagram in flight to the host's udp socket
    const results: ProbeResult[] = []
    for (const label of argv) {
      const name = label.split('=')[0]!
      const spec = PROBES.find((p) => p.name === name)!
      const raw = raws.find((r) => r.probe === label)
      const why = spec.notExpected?.(policy, ctx, label)
      const base: ProbeResult = {
        probe: name,
        attack: spec.attack,
        ...(targets.get(label) ? { target: targets.get(label)! } : {}),
        outcome: 'error',
        expected: why === undefined,
        ...(why ? { reason: why } : {}),
      }
      const ending = endings.get(label)!
      const died = spec.layers['sandbox died']
      if (!raw && died && backend === 'gvisor' && ending.code !== 0 && ctx.cgroup.ok) {
        results.push({ ...base, outcome: 'blocked', by: died })
        continue
      }
      // A bomb under a tight memory limit can fill it before the pids limit: the OOM killer then
      // ends the sandbox, and the bomb was contained all the same, by the cgroup.
      if (!raw && name === 'fork-bomb' && ending.reason === 'oom' && ctx.cgroup.ok) {
        results.push({
          ...base,
          outcome: 'blocked',
          by: 'cgroup (memory limit: the OOM killer ended the bomb)',
        })
        continue
      }
      if (!raw) {
        results.push({
          ...base,
          detail: `no result: the sandbox ended (${ending.reason}, status ${ending.code})`,
        })
        continue
      }
      const host = hostVerdict(name, label, raw, fx, spec, backend)
      const outcome: Outcome = host?.outcome ?? raw.outcome
      let by = host?.by
      if (outcome === 'blocked') by ??= attribute(filter, spec, raw)
      // The runtimes have no Landlock; in gVisor every layer but the host's cgroup is gVisor's
      // kernel answering for Linux.
      if (by && backend !== 'native') by = by.replace(/ (and|or) Landlock/, '')
      if (by && backend === 'gvisor' && !/^(cgroup|rlimit)/.test(by))
        by = /^[A-Z]+$/.test(by) ? `gVisor's kernel (${by})` : `${by} (gVisor)`
      if (name === 'fork-bomb' && by === spec.layers.EAGAIN && !ctx.cgroup.ok)
        by = spec.layers['EAGAIN rlimit']
      const detail =
        host?.detail ??
        (name === 'memory' &&
        !why &&
        policy.limits.memory !== undefined &&
        policy.limits.memory > MEMORY_PROBE_LIMIT
          ? `checked under a ${MEMORY_PROBE_LIMIT / 2 ** 20} MiB limit (the same cgroup setting as the policy's)`
          : name === 'fork-bomb' &&
              !why &&
              policy.limits.pids !== undefined &&
              policy.limits.pids > PIDS_PROBE_LIMIT
            ? `${raw.detail ? `${raw.detail}; ` : ''}checked under a ${PIDS_PROBE_LIMIT}-process limit (the same setting as the policy's ${policy.limits.pids})`
            : raw.detail)
      results.push({
        ...base,
        outcome,
        ...(by ? { by } : {}),
        ...(raw.call ? { call: raw.call } : {}),
        ...(raw.errno
          ? { errno: errnoName(raw.errno) }
          : raw.signal
            ? { errno: `signal ${raw.signal}` }
            : {}),
        ...(detail ? { detail } : {}),
      })
    }
    results.push(...skipped)
    const failures = results.filter(
      (r) => r.expected && (r.outcome === 'escaped' || r.outcome === 'error'),
    ).length
    return { version: 1, results, failures }
  } finally {
    fx.close()
    rmSync(devTarget(), { force: true })
  }
}
