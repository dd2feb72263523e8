// A run's facts placed into a policy's plan (plan/compile.ts compilePlan is bindRun of the
// policy's own plan): on their own, so that a plan compiled earlier is bound without the compiler.
import type { Plan, PlanOp } from './model.js'

/** What one run adds to a policy's plan: the cgroups it joins, the variables it sets over the
 * policy's own, and its command line in place of the policy's. */
export interface RunFacts {
  cgroups?: readonly string[]
  env?: readonly (readonly [name: string, value: string])[]
  command?: readonly string[]
}

/** The plan with one run's facts where compilePlan puts them: the cgroups right after the
 * namespaces op, the variables after the policy's (a later one wins in the launcher), the
 * command line after those. compilePlan is this applied to the policy's plan, so a plan
 * compiled once (spawn()'s reuse, `cordon compile`'s file) and bound here is the plan a
 * compile with the same facts gives. */
export function bindRun(plan: Plan, facts: RunFacts): Plan {
  const { cgroups = [], env = [], command } = facts
  if (!cgroups.length && !env.length && !command) return plan
  const ops = command ? plan.ops.filter((op) => op.op !== 'exec_arg') : [...plan.ops]
  let at = ops.findIndex((op) => op.op === 'die_with_parent') + 1
  if (at === 0)
    // Not a compilePlan plan: after its last variable or argument, else after its first op.
    at = Math.max(
      1,
      ops.findLastIndex((op) => op.op === 'env_set' || op.op === 'env_pass' || op.op === 'exec_arg') + 1,
    )
  else {
    if (ops[at]?.op === 'init') at++
    while (ops[at]?.op === 'env_set' || ops[at]?.op === 'env_pass') at++
  }
  ops.splice(
    at,
    0,
    ...env.map(([name, value]): PlanOp => ({ op: 'env_set', name, value })),
    ...(command ?? []).map((arg): PlanOp => ({ op: 'exec_arg', arg })),
  )
  ops.splice(1, 0, ...cgroups.map((path): PlanOp => ({ op: 'cgroup', path })))
  return { ...plan, ops }
}
