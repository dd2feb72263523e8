// ResolvedPolicy → Plan: every decision the launcher will carry out, made here.
import { type CallerFacts, callerContext } from '../host/caller.js'
import { CordonError } from '../errors.js'
import { type HostIdRanges, hostIdRanges, inInitialUserNamespace } from '../host/id-range.js'
import { compileLandlock } from './landlock.js'
import { compileView, execGranted, type HostFs, realHostFs, visibleInView } from './view.js'
import { sandboxHosts } from './sandbox-hosts.js'
import { capabilityName, capabilityNumber } from '../policy/capabilities.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { NAMESPACES } from '../policy/schema.js'
import { settleHostView } from '../policy/wide-binds.js'
import { hideStateDir } from './state-mask.js'
import { warnOwnInstall } from './own-install.js'
import { precompiledFilter } from '../seccomp/precompiled.js'
import { EXTRA_NOTES } from '../seccomp/extras.js'
import { holdsHostRoot, launcherSeccompExtras, rlimitsFor, withoutTcp } from '../policy/effective.js'
import { compileFilter, type FilterRewrite, type PlanFilter } from './filter.js'
import { RLIMITS } from '../policy/limits.js'
import {
  CLONE_FLAGS,
  type Plan,
  type PlanOp,
  SECCOMP_FLAG_GUARDS_INIT,
  SECCOMP_FLAG_LISTENER,
} from './model.js'
import { bindRun } from './bind-run.js'
import { hostLstat } from '../host/reads.js'
import { lastAtEachPlace } from '../policy/resolved.js'

/** Facts about the caller the plan depends on. */
export interface CompileContext extends CallerFacts {
  /** The command stored in the plan: a compiled plan's default, or the run's own argv when it
   * must travel in the plan (bytes that are not UTF-8 cannot cross child_process). */
  command?: readonly string[]
  /** The cgroup directories the launcher joins first: made for this run before compiling
   * (run/sandbox-cgroup.ts), so that the plan is complete when it leaves the compiler. */
  cgroups?: readonly string[]
  /** Variables set after the policy's own, in order, a later one winning: a passed variable's
   * exact bytes when they are not UTF-8, then the caller's `env` (run/prepare.ts). */
  env?: readonly (readonly [name: string, value: string])[]
  fs?: HostFs
  /** Build the Landlock table only up to this ABI (to test or to pin behaviour across kernels). */
  landlockAbi?: number
  /** Syscalls the monitor watches: reported to the launcher, outcomes unchanged (seccomp/notify.ts). */
  watch?: readonly string[]
  /** A traced run (learn/trace.ts: learn records everything, audit allows everything and
   * records what the policy would refuse): the caller's rewrite of the filter, named by `mode`. */
  trace?: FilterRewrite
  /** The host ids a root caller's sandboxes run as (host/id-range.ts; injectable for tests);
   * null: none (root of a nested user namespace keeps its ids). */
  idRanges?: HostIdRanges | null
  /** Without a mount namespace: the sandbox's own temporary directory, made for this run by the
   * caller (run/spawn.ts), granted by Landlock in place of the policy's tmpfs and named by $TMPDIR. */
  privateTmp?: string
  /** Without a mount namespace, inside a view someone else built (a container): the statements'
   * paths are that view's, so /proc, /dev and tmpfs rules apply to them as they stand. */
  viewProvided?: boolean
  /** The caller's login name, for a run (never an export: its plan runs elsewhere, as someone
   * else): USER and LOGNAME for a program that runs as the caller. */
  loginName?: string
}

export type { FilterRewrite } from './filter.js'
export { bindRun, type RunFacts } from './bind-run.js'

export function compilePlan(given: ResolvedPolicy, ctx: CompileContext = callerContext()): Plan {
  const { cgroups, env, command, ...rest } = ctx
  return bindRun(compilePolicy(given, rest), {
    ...(cgroups ? { cgroups } : {}),
    ...(env ? { env } : {}),
    ...(command ? { command } : {}),
  })
}

/** The policy's own plan, without any run's facts. */
function compilePolicy(
  given: ResolvedPolicy,
  ctx: Omit<CompileContext, 'cgroups' | 'env' | 'command'>,
): Plan {
  // Again on views built after resolution (learn's, audit's), and on policies made in code.
  // cordon's own state is hidden wherever the view would show it (plan/state-mask.ts), and a
  // writable bind holding cordon's own installation is said (plan/own-install.ts).
  const fs = ctx.fs ?? realHostFs
  const policy = warnOwnInstall(
    hideStateDir(settleHostView(given), process.getuid?.() ?? 0, fs),
    undefined,
    fs,
  )
  const notes: string[] = [`layers: ${policy.sources.join(' → ') || '(none)'}`]
  for (const w of policy.warnings ?? []) notes.push(`warning: ${w}`)
  const ns = policy.namespaces
  const ops: PlanOp[] = []
  const flags = NAMESPACES.reduce((f, n) => (ns[n] ? f | CLONE_FLAGS[n] : f), 0)
  ops.push({ op: 'namespaces', flags })

  const uid = policy.user.uid ?? ctx.uid
  // One rule for every backend and export: a uid given alone brings its own group, never the
  // caller's (root's group 0 reads files a plain uid should not).
  const gid = policy.user.gid ?? policy.user.uid ?? ctx.gid
  const identity = sandboxIdentity(policy, ctx, uid, gid)
  if (ns.user) {
    const map = identity.remap
    ops.push({
      op: 'uid_map',
      inside: map ? 0 : uid,
      outside: map ? map.uid.start : 'caller',
      count: map ? map.uid.count : 1,
    })
    ops.push({
      op: 'gid_map',
      inside: map ? 0 : gid,
      outside: map ? map.gid.start : 'caller',
      count: map ? map.gid.count : 1,
    })
  } else if (ctx.uid !== 0 && (uid !== ctx.uid || gid !== ctx.gid)) {
    throw new CordonError(
      'invalid_policy',
      `Invalid policy: \`user\` asks for ${uid}:${gid}, but without \`namespaces.user\` only root can change identity; ` +
        'enable the user namespace or drop `user`',
    )
  }
  notes.push(identity.note)
  if (!ns.user && ctx.uid === 0 && identity.uid !== 0)
    for (const w of unwritableBinds(policy, identity, false)) notes.push(`warning: ${w}`)
  // Idmapped, a root caller's binds show their host owners' ids as they are, and the sandbox's
  // root holds no capability (by default) to write another owner's directory: `--rw .` in a
  // plain user's project made nothing, with no word of why (helper-113).
  if (ns.user && identity.remap && !policy.capabilities.includes(capabilityNumber('dac_override')!))
    for (const w of unwritableBinds(policy, identity, true)) notes.push(`warning: ${w}`)
  ops.push({ op: 'die_with_parent' })
  if (ns.pid || ns.time) ops.push({ op: 'init' })
  for (const [name, value] of Object.entries(tmpEnv(policy, ctx, notes)))
    ops.push({ op: 'env_set', name, value })
  // What login, su and systemd's User= set, and what some programs read before getpwuid; only
  // for the caller's own uid (another's name is not this process's to know), never over the
  // policy's own (set or passed), and a run's `env` still wins.
  if (ctx.loginName && identity.uid === ctx.uid)
    for (const name of ['USER', 'LOGNAME'])
      if (!Object.hasOwn(policy.env.set, name) && !policy.env.pass.includes(name))
        ops.push({ op: 'env_set', name, value: ctx.loginName })
  for (const name of policy.env.pass) ops.push({ op: 'env_pass', name })
  for (const arg of policy.command ?? []) ops.push({ op: 'exec_arg', arg })

  const hosts = sandboxHosts(policy, ctx.fs ?? realHostFs, notes)
  if (ns.mount)
    ops.push(
      ...compileView(hosts ? [...policy.filesystem, hosts] : policy.filesystem, notes, ctx.fs ?? realHostFs, {
        idmapWritable: identity.remap !== undefined,
        tmpfsBudget: tmpfsBudget(policy),
        execGranted: execGranted(policy),
      }),
    )
  if (ns.uts && policy.hostname !== undefined) ops.push({ op: 'hostname', name: policy.hostname })
  else if (policy.hostname !== undefined) notes.push(`hostname ${policy.hostname} not set: no uts namespace`)
  if (policy.network === 'loopback') ops.push({ op: 'loopback' })

  const cwd = policy.cwd ?? (!ns.mount || visibleInView(policy.filesystem, ctx.cwd) ? ctx.cwd : '/')
  for (const [name, value] of Object.entries(rlimitsFor(policy, ctx.uid, notes)))
    ops.push({ op: 'rlimit', resource: RLIMITS[name]!, soft: BigInt(value), hard: BigInt(value) })
  ops.push({ op: 'chdir', path: cwd })
  ops.push({ op: 'setsid' })
  ops.push({ op: 'ids', uid: identity.uid, gid: identity.gid, setgroups: !ns.user && ctx.uid === 0 })
  const keep = policy.capabilities.reduce((m, c) => m | (1n << BigInt(c)), 0n)
  ops.push({ op: 'caps', keep })
  notes.push(`capabilities kept: ${policy.capabilities.map(capabilityName).join(', ') || 'none'}`)
  ops.push({ op: 'no_new_privs' })
  const outside = {
    ...(ctx.privateTmp ? { privateTmp: ctx.privateTmp } : {}),
    ...(ctx.viewProvided ? { viewProvided: true } : {}),
  }
  // Audit refuses nothing: the `tcp:` section's port rules are Landlock's, which has no mode
  // that only reports, so they are left out and the auditor judges each bind and connect
  // (learn/audit.ts). Its seccomp layer stays, its refusals turned into reports by the trace
  // rewrite: a bind outside the ports failed under --audit (helper-138). Learn keeps both:
  // the run behaves as the policy it learns within.
  const landlockOf = ctx.trace?.mode === 'audit' && policy.tcp ? withoutTcp(policy) : policy
  ops.push(...compileLandlock(landlockOf, notes, ctx.fs ?? realHostFs, ctx.landlockAbi, outside))
  const extras = launcherSeccompExtras(policy)
  // A built-in profile's filter is read from build/seccomp; any other is compiled (plan/filter.ts).
  const precompiled = precompiledFilter(policy.seccomp, extras, ctx.arch, ctx.watch, ctx.trace)
  const filter: PlanFilter = precompiled
    ? { ...precompiled, instructions: precompiled.program.length / 8 }
    : compileFilter(policy.seccomp, extras, ctx.arch, ctx.watch, ctx.trace)
  const seccompFlags =
    (filter.responder ? SECCOMP_FLAG_LISTENER : 0) |
    (extras.includes('init-guard') ? SECCOMP_FLAG_GUARDS_INIT : 0)
  ops.push({ op: 'seccomp', flags: seccompFlags >>> 0, program: filter.program })
  if (filter.responder) {
    ops.push({ op: 'seccomp_notify', program: filter.responder })
    if (filter.ptrace) ops.push({ op: 'seccomp_trace' })
    if (ctx.trace) notes.push(`seccomp: ${ctx.trace.mode} mode: calls are recorded by the launcher`)
    if (ctx.watch?.length)
      notes.push(
        `seccomp: reported to the monitor: ${[...ctx.watch]
          .sort()
          .map((n) => (n.startsWith('!') ? `${n.slice(1)} (when refused)` : n))
          .join(', ')}`,
      )
  }
  const profile = policy.seccomp.findLast((l) => l.profile !== undefined)?.profile ?? 'default'
  const own = policy.seccomp.reduce((n, l) => n + (l.rules?.length ?? 0), 0)
  notes.push(
    `seccomp: profile ${profile}${own ? ` + ${own} rule(s)` : ''}, ${filter.instructions} instructions; ` +
      'foreign arch and x32 killed, unknown syscalls ENOSYS, TIOCSTI/TIOCLINUX denied, ' +
      'memfd_create without MFD_NOEXEC_SEAL denied' +
      extras.map((e) => `; ${EXTRA_NOTES[e]}`).join(''),
  )
  return { ops, notes }
}

/** The policy's environment; without a mount namespace its tmpfs statements cannot replace host
 * directories, so $TMPDIR (and a variable the policy points at a tmpfs, like the profiles' HOME)
 * name the run's own temporary directory instead, or the plan says there is none. */
function tmpEnv(policy: ResolvedPolicy, ctx: CompileContext, notes: string[]): Record<string, string> {
  const privateTmp = ctx.privateTmp
  const tmpfs = policy.filesystem.filter((e) => e.kind === 'tmpfs').map((e) => e.dest)
  if (policy.namespaces.mount || ctx.viewProvided || !tmpfs.length) return policy.env.set
  if (!privateTmp) {
    notes.push(
      `no mount namespace: ${tmpfs.join(', ')} not replaced and out of reach; no private temporary directory (a compiled plan has none)`,
    )
    return policy.env.set
  }
  notes.push(
    `no mount namespace: ${tmpfs.join(', ')} not replaced and out of reach; $TMPDIR is the run's own ${privateTmp}`,
  )
  const env: Record<string, string> = { ...policy.env.set, TMPDIR: privateTmp }
  for (const [name, value] of Object.entries(env)) if (tmpfs.includes(value)) env[name] = privateTmp
  return env
}

/** Who the sandbox is, inside and on the host. A root caller's sandbox holds no host root file
 * powers unless the policy says `user.hostRoot` (host/id-range.ts): with a user namespace its ids
 * 0-65535 are an unprivileged host range and its writable binds are idmapped, so it writes as
 * the host's owners without being root; without one it switches to that range's ids. */
export interface SandboxIdentity {
  /** The ids the command runs as (inside its user namespace, or on the host without one). */
  uid: number
  gid: number
  /** The range inside ids 0.. map to, when a root caller's sandbox is remapped. */
  remap?: HostIdRanges
  note: string
}

export function sandboxIdentity(
  policy: ResolvedPolicy,
  ctx: CompileContext,
  uid: number,
  gid: number,
): SandboxIdentity {
  const ns = policy.namespaces
  // Only the host's own root is remapped; the files are read for that caller alone.
  const remap =
    ctx.uid !== 0 || policy.user.hostRoot
      ? null
      : ctx.idRanges !== undefined
        ? ctx.idRanges
        : inInitialUserNamespace()
          ? hostIdRanges()
          : null
  if (!remap) {
    const hostRoot = ctx.uid === 0 && holdsHostRoot(policy)
    return {
      uid,
      gid,
      note: ns.user
        ? `user namespace: uid ${uid} and gid ${gid} inside map to the caller (${ctx.uid}:${ctx.gid})` +
          (hostRoot ? '; HOST ROOT: the sandbox has host root\u2019s file permissions (user.hostRoot)' : '')
        : hostRoot
          ? 'no user namespace: the sandbox runs as HOST ROOT (user.hostRoot)'
          : `no user namespace: the sandbox runs as host ${uid}:${gid}`,
    }
  }
  if (ns.user && (uid >= remap.uid.count || gid >= remap.gid.count))
    throw new CordonError(
      'invalid_policy',
      `Invalid policy: \`user\` asks for ${uid}:${gid}, outside the ${remap.uid.count} ids a root caller's sandbox maps ` +
        `(${remap.uid.source}); use ids below ${Math.min(remap.uid.count, remap.gid.count)}, or \`user.hostRoot: true\``,
    )
  // File capabilities written through an idmapped bind name the host's root as their owner, and
  // would then work on the host: a remapped sandbox with writable binds cannot keep SETFCAP.
  if (
    ns.user &&
    policy.capabilities.includes(capabilityNumber('setfcap')!) &&
    policy.filesystem.some((e) => e.kind === 'bind' && !e.readOnly)
  )
    throw new CordonError(
      'invalid_policy',
      'Invalid policy: `capabilities` keeps SETFCAP while a root caller\u2019s sandbox has writable binds: file ' +
        'capabilities it wrote there would hold on the host; drop SETFCAP, make the binds read-only, or set `user.hostRoot: true`',
    )
  const range = `host ${remap.uid.start}-${remap.uid.start + remap.uid.count - 1} (${remap.uid.source})`
  if (ns.user)
    return {
      uid,
      gid,
      remap,
      note:
        `user namespace: ids 0-${remap.uid.count - 1} inside are ${range}; uid ${uid} and gid ${gid} inside, ` +
        'no host root file powers; writable binds are idmapped (files keep their host owners)',
    }
  // Without a user namespace a kept capability is a host capability: SETFCAP would write file
  // capabilities that hold for every host user, DAC_OVERRIDE or FOWNER reach every file.
  if (policy.capabilities.length)
    throw new CordonError(
      'invalid_policy',
      `Invalid policy: \`capabilities\` keeps ${policy.capabilities.map(capabilityName).join(', ')} without a user namespace: ` +
        'for a root caller they are host capabilities; drop them, enable `namespaces.user`, or set `user.hostRoot: true`',
    )
  // Ids the policy names are host ids here (65534 is nobody); root's become the range's first.
  const hostUid = uid === 0 ? remap.uid.start : uid
  const hostGid = gid === 0 ? remap.gid.start : gid
  return {
    uid: hostUid,
    gid: hostGid,
    note: `no user namespace: the sandbox runs as host ${hostUid}:${hostGid}${uid === 0 ? ` of ${range}` : ''}, not as root`,
  }
}

/** Writable binds whose directory a root caller's sandbox, run as its id range without a user
 * namespace (so without idmapped binds), may not write: `--no-namespaces --rw .` in a root-owned
 * project wrote nothing, with no word of why (a newcomer's trial). Their own files' modes decide
 * deeper down; the directory's own says whether it can make files at all. */
function unwritableBinds(
  policy: ResolvedPolicy,
  id: { uid: number; gid: number },
  idmapped: boolean,
): string[] {
  const out: string[] = []
  for (const e of lastAtEachPlace(policy.filesystem)) {
    if (e.kind !== 'bind' || e.readOnly) continue
    const st = hostLstat(e.src)
    if (!st?.isDirectory()) continue
    const may =
      (st.uid === id.uid && st.mode & 0o200) || (st.gid === id.gid && st.mode & 0o020) || st.mode & 0o002
    if (may) continue
    const dir = `${e.src} (owner ${st.uid}:${st.gid}, mode ${(st.mode & 0o7777).toString(8)})`
    out.push(
      idmapped
        ? `the writable bind of ${e.src}: the sandbox writes as ${id.uid}:${id.gid} without capabilities (its ` +
            `bind is idmapped: host owners keep their ids), and ${dir} lets it make no file there; run as its ` +
            `owner (\`--uid ${st.uid} --gid ${st.gid}\`), or make it writable for ${id.uid}:${id.gid}`
        : `the writable bind of ${e.src}: without a user namespace the sandbox writes as host ${id.uid}:${id.gid} ` +
            `(root's id range), and ${dir} lets it make no file there; run with namespaces (their binds are ` +
            `idmapped), or \`chown ${id.uid}:${id.gid}\` what it should write`,
    )
  }
  return out
}

/** The tmpfs mounts without a size of their own (the default profile has three: /tmp, /var/tmp,
 * /dev/shm) share half the memory limit, so files cannot hold more than the sandbox may: a
 * caller without a cgroup has no other bound on them. Without a limit, the kernel's default. */
export const tmpfsBudget = (policy: ResolvedPolicy): number =>
  policy.limits.memory ? Math.floor(policy.limits.memory / 2) : 0
