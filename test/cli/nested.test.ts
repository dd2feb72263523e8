// cordon inside a cordon sandbox (the README's "Nesting"): every sandbox's filter kills x32
// syscall numbers, and the kernel probe used to try one in-process, so `cordon check` and a
// nested `cordon run --no-namespaces` died of SIGSYS with an internal error and a stack trace.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CLI, cordon, ROOT } from '../helpers.js'

const timeout = 120_000
// The sandbox must see node: the default profile shows /usr, not a node installed elsewhere.
const nodeVisible = process.execPath.startsWith('/usr/')
const skip = !nodeVisible && `node is at ${process.execPath}, outside the default view`
const inside = (args: string[]) =>
  cordon(['run', '-q', '--ro', ROOT, '--', process.execPath, CLI, ...args], { timeout })

describe('cordon inside a cordon sandbox', () => {
  test('check reports the host instead of dying in the probe', { timeout, skip }, () => {
    const r = inside(['check', '--json'])
    assert.doesNotMatch(r.stderr, /internal error|Bad system call/)
    assert.ok(r.status === 0 || r.status === 1, `status ${r.status}: ${r.stderr}`)
    const report = JSON.parse(r.stdout) as { facts: { probe: { x32Entry: boolean | null } } }
    // The outer filter kills x32 numbers, so the child trying one dies: not an x32 entry.
    if (process.arch === 'x64') assert.equal(report.facts.probe.x32Entry, false)
  })

  test('run --no-namespaces nests, Landlock and seccomp stacking', { timeout, skip }, () => {
    const r = inside(['run', '-q', '--no-namespaces', '--acknowledge', 'no-view', '--', 'echo', 'nested'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'nested\n')
  })
})

describe('cordon inside a cordon sandbox, with namespaces', () => {
  test('the refusal names the outer filter, not the host setting', { timeout, skip }, () => {
    const r = inside(['run', '-q', '--', 'true'])
    assert.equal(r.status, 125, r.stderr)
    assert.match(
      r.stderr,
      /clone namespaces failed: a seccomp filter around cordon refuses creating namespaces/,
    )
    assert.match(r.stderr, /--no-namespaces/)
    assert.doesNotMatch(r.stderr, /sysctl|AppArmor/)
  })
})
