// tier: unit
// The run path goes one way (issue 22): spawn() decides the run's cgroup, argv and variables
// before it compiles, and compilePlan writes them where the launcher reads them. Nothing edits
// the plan afterwards, so the plan compilePlan returns is the one the launcher gets.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { callerContext, compilePlan, resolvePolicy } from '../../src/index.js'
import type { PlanOp } from '../../src/plan/model.js'
import { projectDir } from '../helpers.js'

const cwd = projectDir()
const resolved = resolvePolicy(
  { policy: { extends: ['minimal'], env: { pass: ['A'], set: { B: 'policy' } } }, baseDir: cwd, label: 't' },
  cwd,
)
const phase0 = (ops: readonly PlanOp[]) =>
  ops.filter((op) => ['namespaces', 'cgroup', 'env_set', 'env_pass', 'exec_arg'].includes(op.op))

test('compilePlan writes the run’s cgroups first, its variables after the policy’s, its argv', () => {
  const plan = compilePlan(resolved, {
    ...callerContext(),
    cwd,
    cgroups: ['/sys/fs/cgroup/cordon/run-1', '/sys/fs/cgroup/pids/cordon/run-1'],
    env: [
      ['B', 'caller'],
      ['C', 'c'],
    ],
    command: ['sh', '-c', 'true'],
  })
  const ops = phase0(plan.ops)
  // The launcher joins the cgroups before anything else (phase 0, read before clone).
  assert.deepEqual(plan.ops.slice(1, 3), [
    { op: 'cgroup', path: '/sys/fs/cgroup/cordon/run-1' },
    { op: 'cgroup', path: '/sys/fs/cgroup/pids/cordon/run-1' },
  ])
  // A later variable wins in the launcher: the policy's, then the passed ones, then the run's.
  const at = (want: PlanOp) => ops.findIndex((op) => JSON.stringify(op) === JSON.stringify(want))
  const policyB = at({ op: 'env_set', name: 'B', value: 'policy' })
  const passA = at({ op: 'env_pass', name: 'A' })
  assert.ok(policyB > 2 && passA > policyB, JSON.stringify(ops))
  assert.deepEqual(ops.slice(passA + 1), [
    { op: 'env_set', name: 'B', value: 'caller' },
    { op: 'env_set', name: 'C', value: 'c' },
    { op: 'exec_arg', arg: 'sh' },
    { op: 'exec_arg', arg: '-c' },
    { op: 'exec_arg', arg: 'true' },
  ])
})

test('without run facts compilePlan writes no cgroup op (a compiled plan makes none)', () => {
  const plan = compilePlan(resolved, { ...callerContext(), cwd })
  assert.equal(plan.ops.filter((op) => op.op === 'cgroup').length, 0, plan.ops.map((op) => op.op).join(' '))
})
