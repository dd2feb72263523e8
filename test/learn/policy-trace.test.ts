// A policy's own `action: trace` rule under learn and audit. Enforced, `cordon run` attaches no
// tracer, so the kernel fails the call with ENOSYS. Learn's tracer used to take those stops and
// let the call go on: the learning run succeeded where the enforced one fails. Learning now
// keeps the enforced outcome (ENOSYS, recorded as refused); audit lists it as a would-be denial.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, projectDir } from '../helpers.js'

const POLICY = `extends: [default]
seccomp:
  rules:
    - { syscalls: [getppid], action: trace }
`
// getppid is 110 on x86_64, 173 on aarch64.
const NR = process.arch === 'arm64' ? 173 : 110
const SCRIPT = `my $r = syscall(${NR}); print $r < 0 ? "failed $!\\n" : "ok\\n"`

describe("a policy's own trace rule", { skip: process.arch !== 'x64' && process.arch !== 'arm64' }, () => {
  const policy = join(projectDir(), 'trace-rule.yaml')
  writeFileSync(policy, POLICY)
  const enforced = () => cordon(['run', '-p', policy, '--', 'perl', '-e', SCRIPT], { timeout: 60_000 })

  test('enforced: the call fails ENOSYS (no tracer)', () => {
    const r = enforced()
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'failed Function not implemented\n')
  })

  test('learn: the program sees what it sees enforced, and the call is recorded as refused', () => {
    const out = join(projectDir(), 'trace-rule.learned.yaml')
    const r = cordon(['learn', '-p', policy, '-o', out, '--', 'perl', '-e', SCRIPT], { timeout: 60_000 })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, enforced().stdout)
    assert.match(
      readFileSync(out, 'utf8'),
      /# refused by the base policy while learning, still refused: .*getppid \(ENOSYS\)/,
    )
  })

  test('audit: the call goes on, and is listed as refused enforced', () => {
    const r = cordon(['run', '--audit', '-p', policy, '--', 'perl', '-e', SCRIPT], { timeout: 60_000 })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'ok\n')
    assert.match(r.stderr, /seccomp getppid → trace: ENOSYS \(no tracer is attached\)/)
  })
})
