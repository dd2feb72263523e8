// ResolvedPolicy → Plan: every decision the launcher will carry out, made here.
import { CordonError } from '../errors.js'
import { compileView, type HostFs, realHostFs, visibleInView } from '../mounts/view.js'
import { capabilityName } from '../policy/capabilities.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { NAMESPACES } from '../policy/schema.js'
import { entryPoints } from '../seccomp/arch.js'
import { type CompiledFilter, compileSeccomp } from '../seccomp/compile.js'
import { precompiledKey, precompiledProgram } from '../seccomp/precompiled.js'
import { resolveSeccomp } from '../seccomp/resolve.js'
import { CLONE_FLAGS, type Plan, type PlanOp } from './model.js'

/** Facts about the caller the plan depends on. */
export interface CompileContext {
  uid: number
  gid: number
  /** Host working directory; kept as the sandbox's when the view shows it. */
  cwd: string
  arch: string
  /** Default command stored in the plan (compiled plans); run() passes its own. */
  command?: string[]
  fs?: HostFs
}

export function callerContext(): CompileContext {
  return {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: process.cwd(),
    arch: process.arch,
  }
}

export function compilePlan(policy: ResolvedPolicy, ctx: CompileContext = callerContext()): Plan {
  const notes: string[] = [`layers: ${policy.sources.join(' → ') || '(none)'}`]
  const ns = policy.namespaces
  const ops: PlanOp[] = []
  const flags = NAMESPACES.reduce((f, n) => (ns[n] ? f | CLONE_FLAGS[n] : f), 0)
  ops.push({ op: 'namespaces', flags })

  const uid = policy.user.uid ?? ctx.uid
  const gid = policy.user.gid ?? ctx.gid
  if (ns.user) {
    ops.push({ op: 'uid_map', inside: uid, outside: 'caller', count: 1 })
    ops.push({ op: 'gid_map', inside: gid, outside: 'caller', count: 1 })
    notes.push(`user namespace: uid ${uid} and gid ${gid} inside map to the caller (${ctx.uid}:${ctx.gid})`)
  } else if (ctx.uid !== 0 && (uid !== ctx.uid || gid !== ctx.gid)) {
    throw new CordonError(
      'invalid_policy',
      `Invalid policy: \`user\` asks for ${uid}:${gid}, but without \`namespaces.user\` only root can change identity; ` +
        'enable the user namespace or drop `user`',
    )
  }
  ops.push({ op: 'die_with_parent' })
  if (ns.pid || ns.time) ops.push({ op: 'init' })
  for (const [name, value] of Object.entries(policy.env.set)) ops.push({ op: 'env_set', name, value })
  for (const name of policy.env.pass) ops.push({ op: 'env_pass', name })
  for (const arg of ctx.command ?? policy.command ?? []) ops.push({ op: 'exec_arg', arg })

  if (ns.mount) ops.push(...compileView(policy.filesystem, notes, ctx.fs ?? realHostFs))
  if (ns.uts && policy.hostname !== undefined) ops.push({ op: 'hostname', name: policy.hostname })
  if (policy.network === 'loopback') ops.push({ op: 'loopback' })

  const cwd = policy.cwd ?? (!ns.mount || visibleInView(policy.filesystem, ctx.cwd) ? ctx.cwd : '/')
  ops.push({ op: 'chdir', path: cwd })
  ops.push({ op: 'setsid' })
  ops.push({ op: 'ids', uid, gid, setgroups: !ns.user && ctx.uid === 0 })
  const keep = policy.capabilities.reduce((m, c) => m | (1n << BigInt(c)), 0n)
  ops.push({ op: 'caps', keep })
  notes.push(`capabilities kept: ${policy.capabilities.map(capabilityName).join(', ') || 'none'}`)
  ops.push({ op: 'no_new_privs' })
  const filter = cachedFilter(policy.seccomp, ctx.arch)
  ops.push({ op: 'seccomp', flags: 0, program: filter.program })
  const profile = policy.seccomp.findLast((l) => l.profile !== undefined)?.profile ?? 'default'
  const own = policy.seccomp.reduce((n, l) => n + (l.rules?.length ?? 0), 0)
  notes.push(
    `seccomp: profile ${profile}${own ? ` + ${own} rule(s)` : ''}, ${filter.instructions} instructions; ` +
      'foreign arch and x32 killed, unknown syscalls ENOSYS, TIOCSTI/TIOCLINUX denied',
  )
  return { ops, notes }
}

/** A filter depends only on the seccomp layers and the arch: long-running callers of spawn()
 * compile each distinct one once. Bounded, oldest evicted first. */
const filterCache = new Map<string, CompiledFilter>()
function cachedFilter(
  layers: ResolvedPolicy['seccomp'],
  arch: string,
): Pick<CompiledFilter, 'program' | 'instructions'> {
  const builtIn = precompiledKey(layers, arch)
  const program = builtIn ? precompiledProgram(builtIn) : undefined
  if (program) return { program, instructions: program.length / 8 }
  const key = `${arch}\0${JSON.stringify(layers, (k, v) => (k === 'origin' ? undefined : v))}`
  let filter = filterCache.get(key)
  if (!filter) {
    filter = compileSeccomp(resolveSeccomp(layers), entryPoints(arch))
    if (filterCache.size >= 32) filterCache.delete(filterCache.keys().next().value!)
    filterCache.set(key, filter)
  }
  return filter
}
