// What a policy enforces (policy/effective.ts) is the filter the launcher loads, and every view of
// a policy (report, diff, learn) describes that filter: the policy's own seccomp layers plus the
// layers the plan compiler adds (network, host-network, outside-processes, no-setid).
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { attackSurface, describeSurface } from '../../src/learn/surface.js'
import { emptyObservation } from '../../src/learn/observation.js'
import { compilePlan } from '../../src/plan/compile.js'
import { describeLeaf } from '../../src/policy/diff.js'
import { enforcedSeccomp, enforcement } from '../../src/policy/effective.js'
import { RLIMITS } from '../../src/policy/limits.js'
import { loadPolicyFile } from '../../src/policy/parse.js'
import { type ResolvedPolicy, resolvePolicy } from '../../src/policy/resolve.js'
import { ARCHES, entryPoints } from '../../src/seccomp/arch.js'
import { decode, interpret, RET } from '../../src/seccomp/bpf.js'
import { compileSeccomp, leafFor } from '../../src/seccomp/compile.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { syscallTable } from '../../src/seccomp/tables.js'
import { cordon, projectDir } from '../helpers.js'

const dir = projectDir()
const CASES: Record<string, string> = {
  default: 'extends: [default]\n',
  tcp: 'extends: [default]\nnetwork: loopback\ntcp: { connect: [443] }\nlimits: { pids: 50 }\n',
  'host network': 'extends: [default]\nnetwork: host\nnamespaces: { net: false }\n',
  'no pid namespace': 'extends: [default]\nnamespaces: { mount: false, user: false, pid: false }\n',
}
const file = (name: string, text: string) => {
  const path = join(dir, `effective-${name.replace(/ /g, '-')}.yaml`)
  writeFileSync(path, text)
  return path
}
const load = (path: string): ResolvedPolicy =>
  resolvePolicy({ policy: loadPolicyFile(path), baseDir: dir, label: path }, dir)
const ctx = (uid: number) => ({ uid, gid: uid, cwd: dir, arch: 'x64' })

describe('enforcement', () => {
  test('its filter is the program the plan loads, and its rlimits the plan’s rlimit ops', () => {
    for (const [name, text] of Object.entries(CASES)) {
      const policy = load(file(name, text))
      for (const uid of [0, 1000]) {
        const plan = compilePlan(policy, { ...ctx(uid), idRanges: null })
        const op = plan.ops.find((o) => o.op === 'seccomp')
        assert.ok(op && op.op === 'seccomp', name)
        const e = enforcement(policy, uid)
        const fresh = compileSeccomp(e.seccomp, entryPoints('x64')).program
        assert.deepEqual(Buffer.from(op.program), Buffer.from(fresh), `${name}, uid ${uid}`)
        const rlimits = plan.ops.flatMap((o) => (o.op === 'rlimit' ? [[o.resource, Number(o.soft)]] : []))
        assert.deepEqual(
          rlimits.sort(),
          Object.entries(e.rlimits)
            .map(([r, v]) => [RLIMITS[r]!, v])
            .sort(),
          `${name}, uid ${uid}`,
        )
      }
    }
  })

  test('the policy’s own layers alone are not what is enforced (the bug class this guards)', () => {
    // openat2 hides its mode from the filter, so every sandbox refuses it (no-setid, ENOSYS).
    const policy = load(file('default', CASES.default!))
    const own = attackSurface(resolveSeccomp(policy.seccomp), 'x86_64').reachable
    const enforced = attackSurface(enforcedSeccomp(policy), 'x86_64').reachable
    assert.ok(own.includes('openat2'))
    assert.ok(!enforced.includes('openat2'))
  })
})

describe('views of a policy describe the enforced filter', () => {
  test('cordon report: the reachable syscalls are the enforced filter’s', () => {
    for (const [name, text] of Object.entries(CASES)) {
      const path = file(name, text)
      const r = cordon(['report', '--json', path], { cwd: dir })
      assert.equal(r.status, 0, r.stderr)
      const p = JSON.parse(r.stdout) as {
        syscalls: { arch: string; reachable: string[]; instructions: number }
      }
      const policy = load(path)
      assert.deepEqual(
        p.syscalls.reachable,
        attackSurface(enforcedSeccomp(policy), p.syscalls.arch).reachable,
        name,
      )
    }
    // And the plan's BPF agrees on the call every filter refuses.
    const plan = compilePlan(load(file('default', CASES.default!)), ctx(process.getuid!()))
    const op = plan.ops.find((o) => o.op === 'seccomp')
    assert.ok(op && op.op === 'seccomp')
    const v = interpret(decode(op.program), {
      nr: syscallTable('x86_64').openat2!,
      arch: ARCHES.x86_64.audit,
      args: [0n, 0n, 0n, 0n, 0n, 0n],
    }).value
    assert.notEqual(v, RET.ALLOW >>> 0)
  })

  test('cordon policy diff: a change in the layers the compiler adds is a seccomp change', () => {
    const a = file('default', CASES.default!)
    const b = file('host network', CASES['host network']!)
    const r = cordon(['policy', 'diff', '--json', a, b])
    assert.equal(r.status, 1, r.stderr)
    const changes = (
      JSON.parse(r.stdout) as { changes: { area: string; subject: string; from: string; to: string }[] }
    ).changes
    // The host-network guard refuses the proc connector; net-families goes with network: host.
    const socket = changes.find((c) => c.area === 'seccomp' && c.subject === 'socket')
    assert.ok(socket, JSON.stringify(changes, null, 1))
    assert.equal(socket.from, describeLeaf(leafFor(enforcedSeccomp(load(a)), 'socket')))
    assert.equal(socket.to, describeLeaf(leafFor(enforcedSeccomp(load(b)), 'socket')))
    assert.match(socket.to, /errno\(EACCES\) if arg0 == 16/)
  })

  test('cordon learn: the attack surface it writes is the enforced filter’s', () => {
    const obs = emptyObservation('x86_64')
    for (const name of ['read', 'write', 'exit_group', 'openat2', 'execve']) obs.syscalls[name] = { count: 1 }
    const from = join(dir, 'effective-obs.learn.json')
    writeFileSync(from, JSON.stringify(obs))
    const out = join(dir, 'effective-learned.yaml')
    const r = cordon(['learn', '-q', '-o', out, '--from', from], { cwd: dir })
    assert.equal(r.status, 0, r.stderr)
    const written = readFileSync(out, 'utf8')
    const header = /^# Attack surface: (.*)\.$/m.exec(written)?.[1]
    const surface = attackSurface(enforcedSeccomp(load(out)), 'x86_64')
    assert.equal(header, describeSurface(surface))
    assert.ok(!surface.reachable.includes('openat2'))
  })
})
