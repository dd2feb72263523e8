// A traced run (learn, audit) keeps every process under the tracer: clone(CLONE_UNTRACED)
// would make a child the kernel attaches no tracer to, whose observed calls then fail ENOSYS
// (RET_TRACE with no tracer) and go unrecorded. (Found by the adversarial review of the ptrace
// observation.)
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { traceFilters } from '../../src/learn/trace.js'
import { entryPoints } from '../../src/seccomp/arch.js'
import { RET } from '../../src/seccomp/bpf.js'
import { evaluateSpec } from '../../src/seccomp/reference.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { cordon, projectDir } from '../helpers.js'

const arches = entryPoints('x64')
const x64 = arches[0]!
const CLONE = 56
const CLONE3 = 435
const UNTRACED = 0x00800000n
const SIGCHLD = 17n

describe('traced runs keep children traced', () => {
  for (const mode of ['learn', 'audit'] as const) {
    test(`${mode}: clone with CLONE_UNTRACED is refused and reported; clone3 answers ENOSYS`, () => {
      const { filter, responder } = traceFilters(
        resolveSeccomp([{ origin: 'base', profile: 'default' }]),
        mode,
      )
      const ret = (spec: typeof filter, nr: number, flags: bigint) =>
        evaluateSpec(spec, arches, x64.audit, nr, [flags, 0n, 0n, 0n, 0n, 0n])
      assert.equal(ret(filter, CLONE, UNTRACED | SIGCHLD) >>> 0, RET.USER_NOTIF)
      // The responder answers deny (kind 2, notify.ts) with EPERM.
      const answer = ret(responder, CLONE, UNTRACED | SIGCHLD) >>> 0
      assert.equal(answer >>> 30, 2)
      assert.equal(answer & 0xfff, 1)
      assert.notEqual(ret(filter, CLONE, SIGCHLD) >>> 0, RET.USER_NOTIF)
      assert.equal(ret(filter, CLONE3, 0n) >>> 0, (RET.ERRNO | 38) >>> 0)
    })
  }

  const script =
    'my $p = syscall(56, 0x00800000 | 17, 0, 0, 0, 0); ' +
    'if ($p == 0) { open(my $f, "<", "/etc/hostname") or print "child: $!\\n"; exit 0 } ' +
    'if ($p < 0) { print "refused\\n"; exit 0 } waitpid($p, 0); print "done\\n"'

  test('audit: no child leaves the tracer', () => {
    const r = cordon(['run', '--audit', '--', 'perl', '-e', script], { cwd: projectDir(), timeout: 60_000 })
    assert.equal(r.status, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /child:/, r.stdout)
    assert.match(r.stdout, /^refused$/m)
  })

  // The learned policy names what refused the call: the tracer's own rule, not the base policy
  // (which allows CLONE_UNTRACED, and decides it when the learned policy is enforced).
  test('learn: the policy says the tracer refused CLONE_UNTRACED, and enforced it is allowed', () => {
    const out = join(projectDir(), 'untraced.yaml')
    const r = cordon(['learn', '-o', out, '--', 'perl', '-e', script], { cwd: projectDir(), timeout: 60_000 })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^refused$/m)
    const yaml = readFileSync(out, 'utf8')
    assert.match(
      yaml,
      /# refused by learn's tracer, not by the base policy .*: clone with CLONE_UNTRACED \(EPERM\)/,
    )
    assert.doesNotMatch(yaml, /refused by the base policy/)
    const enforced = cordon(['run', '-p', out], { cwd: projectDir(), timeout: 60_000 })
    assert.equal(enforced.status, 0, enforced.stderr)
    assert.match(enforced.stdout, /^done$/m)
  })
})
