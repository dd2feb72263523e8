// org.cordon.policy: a cordon policy's own layers on top of config.json — its Landlock rules
// (each narrowed to what the container's mount allows there), its seccomp filter (stacked on
// the config's: the kernel runs both, the stricter answer wins) and its limits (the lower of
// the two). The engine keeps what it owns: mounts, namespaces, ids, capabilities, network.
import { FS } from '../landlock/rights.js'
import { compileFilter } from '../plan/filter.js'
import { compileLandlock } from '../plan/landlock.js'
import type { PlanOp } from '../plan/model.js'
import { realHostFs } from '../plan/view.js'
import { seccompExtras } from '../policy/effective.js'
import { parsePolicy } from '../policy/parse.js'
import { PROFILES } from '../policy/profiles.js'
import type { Policy } from '../policy/schema.js'
import { type HostPaths, realHostPaths } from '../policy/bind-sources.js'
import { type PolicySource, type ResolvedPolicy, resolveLayers } from '../policy/resolve.js'
import { settleHostView } from '../policy/wide-binds.js'
import { precompiledFilter } from '../seccomp/precompiled.js'
import type { ViewMount } from './mounts.js'
import { POLICY_ANNOTATION, policyDir, readOwnFile } from './policy-dir.js'
import { invalid, type OciConfig, unsupported } from './spec.js'

const FIELD = `annotations["${POLICY_ANNOTATION}"]`
const READ = FS.execute | FS.read_file | FS.read_dir | FS.ioctl_dev
const NO_DEVICES = ~(FS.make_char | FS.make_block)

/** The annotation's policy: inline YAML/JSON (a `{` or a newline in it), a file NAME.yaml of
 * the policy directory, or a built-in profile's name; undefined without the annotation. */
export function annotatedPolicy(config: OciConfig, rootfs: string): ResolvedPolicy | undefined {
  const value = config.annotations?.[POLICY_ANNOTATION]?.trim()
  if (value === undefined) return undefined
  const cwd = config.process?.cwd?.startsWith('/') ? config.process.cwd : '/'
  // A named file's `extends` are root's, relative to the policy directory; the container's cwd
  // is no host directory.
  const source = (policy: PolicySource['policy'], label: string, baseDir = policyDir()): ResolvedPolicy =>
    resolveLayers([{ policy, baseDir, label }], cwd, (p) => settleHostView(p, rootedPaths(rootfs), []))
  if (value.startsWith('{') || value.includes('\n'))
    return source(onlyProfiles(parsePolicy(value, FIELD, value.startsWith('{') ? 'json' : 'yaml')), FIELD)
  if (!/^[A-Za-z0-9][\w.-]*$/.test(value))
    throw invalid(
      FIELD,
      `a policy name (a file NAME.yaml in ${policyDir()}, or a built-in profile: ${Object.keys(PROFILES).join(', ')}) or inline YAML; paths are not read`,
      value,
    )
  const file = `${policyDir()}/${value}.yaml`
  const text = readOwnFile(file, FIELD)
  if (text !== undefined) return source(parsePolicy(text, file, 'yaml'), file)
  if (PROFILES[value]) return source({ extends: [value] }, `profile ${value}`)
  throw invalid(
    FIELD,
    `a file ${value}.yaml in ${policyDir()} or a built-in profile (${Object.keys(PROFILES).join(', ')})`,
    value,
  )
}

/** An inline policy is the container author's, and `extends` may name files: root would read
 * any host file for them and echo its lines back in the parse error, as a path in the
 * annotation would. It may extend built-in profiles only. */
function onlyProfiles(policy: Policy): Policy {
  for (const [i, parent] of (policy.extends ?? []).entries())
    if (!PROFILES[parent])
      throw invalid(
        `${FIELD}.extends[${i}]`,
        `a built-in profile (${Object.keys(PROFILES).join(', ')}): an inline policy reads no file; put the policy in ${policyDir()}/NAME.yaml and annotate NAME`,
        parent,
      )
  return policy
}

/** The container's paths, as the policy's bind sources are resolved: under its root, where a
 * symlink's target means what it means inside. No host mount is kept from a wide bind: the
 * container's mounts are the engine's. */
const rootedPaths = (rootfs: string): HostPaths => ({
  stat: (path) => realHostPaths.stat(`${rootfs}${path}`),
  readlink: (path) => realHostPaths.readlink(`${rootfs}${path}`),
})

/** The policy as the container's: no mount view of its own (the engine built it, so its paths
 * are the container's), and the container's namespaces for the seccomp layers that depend on
 * them. The network is the engine's: only `tcp:` ports narrow it. */
function asContainer(policy: ResolvedPolicy, config: OciConfig): ResolvedPolicy {
  const own = new Set((config.linux?.namespaces ?? []).filter((n) => !n.path).map((n) => n.type))
  return {
    ...policy,
    network: policy.tcp ? policy.network : 'host',
    namespaces: {
      user: own.has('user'),
      pid: own.has('pid'),
      mount: false,
      ipc: own.has('ipc'),
      uts: own.has('uts'),
      net: own.has('network'),
      cgroup: own.has('cgroup'),
      time: own.has('time'),
    },
  }
}

/** The rights the container's mounts leave at a path: the deepest mount above it decides. */
function mountRights(mounts: ViewMount[], path: string): bigint {
  let readOnly = mounts[0]?.readOnly ?? false
  let depth = -1
  for (const m of mounts) {
    const d = m.dest === '/' ? 0 : m.dest.split('/').length
    if ((m.dest === '/' || path === m.dest || path.startsWith(`${m.dest}/`)) && d >= depth) {
      depth = d
      readOnly = m.readOnly
    }
  }
  return readOnly ? READ : ~0n
}

/** The policy's Landlock ruleset (in place of the one derived from the mounts alone), each
 * rule narrowed to what the mount at its path allows, and no device node anywhere. */
export function policyLandlockOps(
  policy: ResolvedPolicy,
  config: OciConfig,
  mounts: ViewMount[],
  notes: string[],
): PlanOp[] {
  const p = asContainer(policy, config)
  return compileLandlock(p, notes, realHostFs, undefined, { viewProvided: true }).map((op) =>
    op.op === 'landlock_path' ? { ...op, access: op.access & mountRights(mounts, op.path) & NO_DEVICES } : op,
  )
}

/** The policy's seccomp filter, loaded after the config's (both hold). Rules that need a
 * supervisor in the call path (notify, deny-log) are refused: the runtime leaves none there. */
export function policySeccompOps(policy: ResolvedPolicy, config: OciConfig, notes: string[]): PlanOp[] {
  const p = asContainer(policy, config)
  const extras = seccompExtras(p)
  const pre = precompiledFilter(p.seccomp, extras, process.arch)
  const filter = pre ?? compileFilter(p.seccomp, extras, process.arch)
  if (filter.responder)
    throw unsupported(
      `${FIELD}.seccomp`,
      'notify and deny-log rules need cordon in the call path, which a container started by an engine has not; use errno or kill actions',
    )
  notes.push(`seccomp: the policy's filter (${filter.program.length / 8} instructions) after the config's`)
  return [{ op: 'seccomp', flags: 0, program: filter.program }]
}

type Resources = Record<string, unknown>
const lower = (a: unknown, b: number | undefined): number | undefined =>
  b === undefined ? (a as number | undefined) : typeof a === 'number' && a > 0 && a < b ? a : b

/** linux.resources with the policy's limits where they are lower (memory, pids, CPUs). */
export function mergeLimits(resources: Resources | undefined, policy: ResolvedPolicy): Resources {
  const r: Resources = { ...(resources ?? {}) }
  const l = policy.limits
  const obj = (k: string): Record<string, unknown> => ({
    ...((r[k] as Record<string, unknown> | undefined) ?? {}),
  })
  if (l.memory !== undefined) r.memory = { ...obj('memory'), limit: lower(obj('memory').limit, l.memory) }
  if (l.pids !== undefined) r.pids = { ...obj('pids'), limit: lower(obj('pids').limit, l.pids) }
  if (l.cpus !== undefined) {
    const cpu = obj('cpu')
    const period = typeof cpu.period === 'number' && cpu.period > 0 ? cpu.period : 100_000
    const quota = Math.round(l.cpus * period)
    r.cpu = { ...cpu, period, quota: lower(cpu.quota, quota) }
  }
  return r
}
