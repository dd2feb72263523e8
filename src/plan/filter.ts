// The seccomp filter of a plan when no precompiled one fits (a policy's own rules or default, a
// watched syscall, a traced run): resolved, rewritten and compiled here. Apart from compile.ts
// so that a run whose filter is precompiled (seccomp/precompiled.ts) never loads the compiler:
// the CLI bundle (scripts/bundle-cli.mjs) puts plan/lazy-filter.ts in this module's place.
import type { ResolvedPolicy } from '../policy/resolve.js'
import { withExtras } from '../policy/effective.js'
import { entryPoints } from '../seccomp/arch.js'
import { compileSeccomp } from '../seccomp/compile.js'
import { SECCOMP_EXTRAS, type SeccompExtra } from '../seccomp/extras.js'
import type { SeccompSpec } from '../seccomp/model.js'
import { NETWORK_LAYERS, type NetworkLayer, TCP_LAYERS } from '../seccomp/network.js'
import { hasNotify, responderSpec, watchSyscalls } from '../seccomp/notify.js'
import { GUARD_ORIGINS, resolveSeccomp } from '../seccomp/resolve.js'

/** Rewrites a resolved filter and gives the launcher's responder for it; `mode` names it (in
 * the plan's notes and the filter cache). Passed in so the compiler knows no tracing policy. */
export interface FilterRewrite {
  mode: string
  rewrite(spec: SeccompSpec): { filter: SeccompSpec; responder: SeccompSpec; ptrace?: boolean }
}

export interface PlanFilter {
  program: Uint8Array
  instructions: number
  /** The launcher's responder when the filter notifies. */
  responder?: Uint8Array
  /** The filter's RET_TRACE outcomes are the launcher's too, as a tracer. */
  ptrace?: boolean
}

/** A layer's resolved rules alone (a layer resolves on top of the default profile). */
const layerRules = (layer: { origin: string }) =>
  resolveSeccomp([layer]).rules.filter((r) => r.origin === layer.origin)

/** A filter depends only on the seccomp layers and the arch: long-running callers of spawn()
 * compile each distinct one once. Bounded, oldest evicted first. */
const filterCache = new Map<string, PlanFilter>()
export function compileFilter(
  own: ResolvedPolicy['seccomp'],
  extras: readonly SeccompExtra[],
  arch: string,
  watch: readonly string[] = [],
  trace?: FilterRewrite,
): PlanFilter {
  const layers = withExtras(own, extras)
  const key = `${arch}\0${trace?.mode ?? ''}\0${[...watch].sort().join(',')}\0${JSON.stringify(layers, (k, v: unknown) => (k === 'origin' ? undefined : v))}`
  let filter = filterCache.get(key)
  if (!filter) {
    let spec = resolveSeccomp(layers)
    if (watch.length) spec = watchSyscalls(spec, watch)
    const traced = trace?.rewrite(spec)
    // Learn and audit turn refusals into recorded calls; the terminal guard and the set-id guard
    // stay refusals (DESIGN.md: every sandbox), and so do the network layers: they complete the
    // net namespace and Landlock's port rules, which a traced run keeps (an audited sandbox must
    // not reach the hypervisor over vsock either). Audit's own `tcp:` layers aside: audit keeps
    // no port rule (plan/compile.ts), and what they refuse (a UDP socket, listen() without a
    // bind port, fast open) went through unjudged or was refused under --audit (helper-139).
    // The host-network guard is cordon's own too, as the set-id guard (helper-140: the proc
    // connector's socket was reported under --audit --net host, not refused).
    const kept = [
      ...extras.filter(
        (e): e is NetworkLayer | 'outside-processes' | 'init-guard' | 'host-network' =>
          (e in NETWORK_LAYERS && !(trace?.mode === 'audit' && TCP_LAYERS.has(e))) ||
          e === 'outside-processes' ||
          e === 'init-guard' ||
          e === 'host-network',
      ),
      'no-setid' as const,
    ]
    if (traced)
      spec = {
        ...traced.filter,
        rules: [
          ...traced.filter.rules,
          ...spec.rules.filter((r) => GUARD_ORIGINS.includes(r.origin)),
          ...kept.flatMap((e) => layerRules(SECCOMP_EXTRAS[e])),
        ],
      }
    const compiled = compileSeccomp(spec, entryPoints(arch))
    filter = { program: compiled.program, instructions: compiled.instructions }
    const responder = traced?.responder ?? (hasNotify(spec) ? responderSpec(spec) : undefined)
    if (responder) filter.responder = compileSeccomp(responder, entryPoints(arch)).program
    if (responder && traced?.ptrace) filter.ptrace = true
    if (filterCache.size >= 32) filterCache.delete(filterCache.keys().next().value!)
    filterCache.set(key, filter)
  }
  return filter
}
