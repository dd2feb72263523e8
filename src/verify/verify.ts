// `cordon verify`: runs the probe battery (native/attack.c) inside a sandbox built from the
// policy, with real targets on the host — a process to trace and signal, TCP and UDP ports and
// an abstract socket listening on loopback, host directories to write into, a setuid-root
// binary — then checks on the host side what actually got through.
import { type ChildProcess, spawn as spawnChild } from 'node:child_process'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { dirname, join } from 'node:path'
import { enforcedSeccompLayers } from '../plan/compile.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { run } from '../run/spawn.js'
import { type Backend, runOnRuntime } from '../backends/runtime.js'
import { probesPath } from '../run/launcher.js'
import { archByName, entryPoints } from '../seccomp/arch.js'
import { RET } from '../seccomp/bpf.js'
import { evaluateSpec } from '../seccomp/reference.js'
import type { SeccompSpec } from '../seccomp/model.js'
import { errnoName, resolveSeccomp } from '../seccomp/resolve.js'
import { syscallTable } from '../seccomp/tables.js'
import { homedir } from 'node:os'
import { under } from '../learn/paths.js'
import { cgroupAccess } from '../cgroup/select.js'
import { PROBES, type ProbeContext, type ProbeSpec } from './battery.js'

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

const VIEW_DIR = '/.cordon-verify'

interface Fixtures {
  sleeper: ChildProcess
  tcp: Server
  tcpPort: number
  udp: UdpSocket
  udpPort: number
  udpReceived: boolean
  abstract: Server
  abstractName: string
  suidDir?: string
  writeTargets: string[]
  close(): void
}

const listen = (server: Server, options: { port?: number; host?: string; path?: string }) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options, () => resolve())
  })

async function prepare(policy: ResolvedPolicy, home: string, cwd: string): Promise<Fixtures> {
  const sleeper = spawnChild('sleep', ['600'], { stdio: 'ignore' })
  const tcp = createServer((s) => s.destroy())
  await listen(tcp, { port: 0, host: '127.0.0.1' })
  const udp = createSocket('udp4')
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
  const abstractName = `cordon-verify-${process.pid}-${Date.now()}`
  const abstract = createServer((s) => s.destroy())
  await listen(abstract, { path: `\0${abstractName}` })
  let suidDir: string | undefined
  if (process.getuid?.() === 0) {
    suidDir = mkdtempSync('/tmp/cordon-verify-suid-')
    chmodSync(suidDir, 0o755)
    copyFileSync(probesPath(), join(suidDir, 'cordon-probes'))
    chmodSync(join(suidDir, 'cordon-probes'), 0o4755)
  }
  const writable = policy.filesystem.filter(
    (e): e is Extract<ViewEntry, { kind: 'bind' }> => e.kind === 'bind' && !e.readOnly,
  )
  const stamp = `.cordon-verify-${process.pid}-${Date.now()}`
  const writeTargets = [...new Set(['/etc', '/usr', '/var', home, dirname(cwd)])]
    .filter((d) => existsSync(d) && statSync(d).isDirectory())
    .filter((d) => !writable.some((b) => under(d, b.src)))
    .map((d) => join(d, stamp))
  const fixtures: Fixtures = {
    sleeper,
    tcp,
    tcpPort: (tcp.address() as { port: number }).port,
    udp,
    udpPort: udp.address().port,
    udpReceived: false,
    abstract,
    abstractName,
    ...(suidDir ? { suidDir } : {}),
    writeTargets,
    close() {
      sleeper.kill('SIGKILL')
      tcp.close()
      udp.close()
      abstract.close()
      if (suidDir) rmSync(suidDir, { recursive: true, force: true })
      for (const t of writeTargets) if (existsSync(t)) unlinkSync(t)
    },
  }
  udp.on('message', () => (fixtures.udpReceived = true))
  return fixtures
}

/** The policy plus the probe binary (and the setuid copy) where the sandbox can run them. */
function withProbes(
  policy: ResolvedPolicy,
  fx: Fixtures,
): { policy: ResolvedPolicy; bin: string; suid?: string } {
  const hostBin = probesPath()
  if (!policy.namespaces.mount) {
    const dirs = [dirname(hostBin), ...(fx.suidDir ? [fx.suidDir] : [])]
    return {
      policy: {
        ...policy,
        landlock: {
          ...policy.landlock,
          paths: [
            ...policy.landlock.paths,
            ...dirs.map((path) => ({ path, access: ['rx'], optional: false })),
          ],
        },
      },
      bin: hostBin,
      ...(fx.suidDir ? { suid: join(fx.suidDir, 'cordon-probes') } : {}),
    }
  }
  const bind = (src: string, dest: string): ViewEntry => ({
    kind: 'bind',
    src,
    dest,
    readOnly: true,
    optional: false,
  })
  return {
    policy: {
      ...policy,
      filesystem: [
        ...policy.filesystem,
        bind(hostBin, `${VIEW_DIR}/cordon-probes`),
        ...(fx.suidDir ? [bind(fx.suidDir, `${VIEW_DIR}/suid`)] : []),
      ],
    },
    bin: `${VIEW_DIR}/cordon-probes`,
    ...(fx.suidDir ? { suid: `${VIEW_DIR}/suid/cordon-probes` } : {}),
  }
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

export async function verify(policy: ResolvedPolicy, options: VerifyOptions = {}): Promise<Verification> {
  const cwd = options.cwd ?? process.cwd()
  const home = homedir()
  const fx = await prepare(policy, home, cwd)
  const uid = process.getuid?.() ?? 0
  const ctx: ProbeContext = { home, tcpPort: fx.tcpPort, uid, cgroup: cgroupAccess(uid) }
  const filter = resolveSeccomp(enforcedSeccompLayers(policy))
  try {
    const { policy: sandboxed, bin, suid } = withProbes(policy, fx)
    const selected = PROBES.filter((p) => !options.only || options.only.includes(p.name))
    const argv: string[] = []
    const targets = new Map<string, string>()
    const skipped: ProbeResult[] = []
    for (const p of selected) {
      const add = (arg: string | undefined, target?: string) => {
        const label = arg === undefined ? p.name : `${p.name}=${arg}`
        argv.push(label)
        if (target) targets.set(label, target)
      }
      switch (p.name) {
        case 'ptrace-host':
        case 'signal-host':
          add(String(fx.sleeper.pid), `host pid ${fx.sleeper.pid}`)
          break
        case 'read-home':
          add(ctx.home, ctx.home)
          break
        case 'write-outside':
          for (const t of fx.writeTargets) add(t, dirname(t))
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
        case 'setuid':
          if (suid) add(suid, 'a setuid-root copy of the probe')
          else
            skipped.push({
              probe: p.name,
              attack: p.attack,
              outcome: 'skipped',
              expected: false,
              reason: 'preparing a setuid-root binary needs root',
            })
          break
        case 'fork-bomb':
          add(String(policy.limits.pids !== undefined ? policy.limits.pids + 50 : 1000))
          break
        case 'memory':
          // Past the limit when one holds; a bounded 256 MiB (proof, not harm) when none does.
          add(
            String(
              policy.limits.memory !== undefined && !p.notExpected?.(policy, ctx)
                ? Math.ceil(policy.limits.memory / 2 ** 20) + 128
                : 256,
            ),
          )
          break
        default:
          add(undefined)
      }
    }
    options.onProgress?.(0, argv.length)
    // A probe that hangs must not hang verify: a wall-clock limit unless the policy has one.
    const bounded = { ...sandboxed, limits: { timeoutMs: 120_000, ...sandboxed.limits } }
    const backend = options.backend ?? 'native'
    // A probe that exhausts a limit can take the whole sandbox down (a fork bomb's processes
    // fill a small memory limit; gVisor's kernel dies when the host refuses it a thread): each
    // such probe gets a run of its own.
    const alone = (label: string) => /^(fork-bomb|memory)(=|$)/.test(label)
    const groups = [argv.filter((l) => !alone(l)), ...argv.filter(alone).map((l) => [l])].filter(
      (g) => g.length,
    )
    const endings = new Map<string, { reason: string; code: number }>()
    let stdout = ''
    for (const group of groups) {
      const ran =
        backend === 'native'
          ? await run(bounded, bin, group, { context: { cwd } })
          : await runOnRuntime(bounded, backend, [bin, ...group], { cwd })
      stdout += ran.stdout
      for (const label of group) endings.set(label, ran)
    }
    const raws = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as RawResult)
    const results: ProbeResult[] = []
    for (const label of argv) {
      const name = label.split('=')[0]!
      const spec = PROBES.find((p) => p.name === name)!
      const raw = raws.find((r) => r.probe === label)
      const why = spec.notExpected?.(policy, ctx)
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
      if (!raw) {
        results.push({
          ...base,
          detail: `no result: the sandbox ended (${ending.reason}, status ${ending.code})`,
        })
        continue
      }
      let outcome: Outcome = raw.outcome
      let by: string | undefined
      // What reached the host decides, not what the probe saw.
      if (name === 'write-outside') {
        const landed = existsSync(label.slice(name.length + 1))
        if (raw.outcome === 'escaped' && !landed) by = spec.layers.private
        outcome = landed ? 'escaped' : 'blocked'
      }
      if (name === 'udp-host') {
        await new Promise((r) => setTimeout(r, 50))
        outcome = fx.udpReceived ? 'escaped' : 'blocked'
      }
      if (outcome === 'blocked') by ??= attribute(filter, spec, raw)
      // The runtimes have no Landlock; in gVisor every layer but the host's cgroup is gVisor's
      // kernel answering for Linux.
      if (by && backend !== 'native') by = by.replace(/ (and|or) Landlock/, '')
      if (by && backend === 'gvisor' && !/^(cgroup|rlimit)/.test(by))
        by = /^[A-Z]+$/.test(by) ? `gVisor's kernel (${by})` : `${by} (gVisor)`
      if (name === 'fork-bomb' && by === spec.layers.EAGAIN && !ctx.cgroup.ok)
        by = spec.layers['EAGAIN rlimit']
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
        ...(raw.detail ? { detail: raw.detail } : {}),
      })
    }
    results.push(...skipped)
    const failures = results.filter(
      (r) => r.expected && (r.outcome === 'escaped' || r.outcome === 'error'),
    ).length
    return { version: 1, results, failures }
  } finally {
    fx.close()
  }
}
