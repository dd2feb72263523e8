// The argument checks cordon exports to runc and gVisor (seccomp/oci.ts): OCI comparisons read
// all 64 bits, the kernel reads an int argument's low 32, so every 32-bit check must be exported
// as masked comparisons of the low word. Judged by an evaluator of the exported profile against
// cordon's reference evaluator, and by the probes through both runtimes, as root and as a plain
// user.
import assert from 'node:assert/strict'
import { chmodSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { policyFromFlags, type PolicyFlagValues } from '../../src/cli/policy-flags.js'
import { exportedSeccompLayers } from '../../src/policy/effective.js'
import type { ResolvedPolicy } from '../../src/policy/resolve.js'
import { archByName, entryPoints } from '../../src/seccomp/arch.js'
import { RET } from '../../src/seccomp/bpf.js'
import { leafFor } from '../../src/seccomp/compile.js'
import type { ArgCondition, SeccompSpec } from '../../src/seccomp/model.js'
import { exportOci, type OciProfile, type OciRule } from '../../src/seccomp/oci.js'
import { evaluateSpec } from '../../src/seccomp/reference.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { syscallTable } from '../../src/seccomp/tables.js'
import { cordonAs, ensureTestUser, hasCommand, isRoot, ROOT, SIDE_DOOR_PROBES } from '../helpers.js'

const M64 = 0xffffffffffffffffn
const arch = archByName(process.arch)!

/** How libseccomp (runc) and runsc read an exported profile, for one call: the first rule with
 * argument conditions that all hold (64-bit comparisons), else a rule without conditions, else
 * the default. Returns a kernel-style return value. */
function evaluateOci(profile: OciProfile, name: string, args: bigint[]): number {
  const value = (r: { action: string; errnoRet?: number }) =>
    r.action === 'SCMP_ACT_ALLOW'
      ? RET.ALLOW
      : r.action === 'SCMP_ACT_ERRNO'
        ? (RET.ERRNO | (r.errnoRet ?? 1)) >>> 0
        : r.action === 'SCMP_ACT_KILL_PROCESS'
          ? RET.KILL_PROCESS
          : -1
  const rules = (profile.syscalls ?? []).filter((r) => r.names.includes(name))
  const holds = (r: OciRule) =>
    (r.args ?? []).every((a) => {
      const x = args[a.index] ?? 0n
      const v = BigInt(a.value)
      const v2 = BigInt(a.valueTwo ?? 0)
      switch (a.op) {
        case 'SCMP_CMP_EQ':
          return x === v
        case 'SCMP_CMP_NE':
          return x !== v
        case 'SCMP_CMP_LT':
          return x < v
        case 'SCMP_CMP_LE':
          return x <= v
        case 'SCMP_CMP_GT':
          return x > v
        case 'SCMP_CMP_GE':
          return x >= v
        case 'SCMP_CMP_MASKED_EQ':
          return (x & v) === v2
        default:
          throw new Error(`unknown op ${a.op}`)
      }
    })
  const conditional = rules.find((r) => r.args?.length && holds(r))
  if (conditional) return value(conditional)
  const plain = rules.find((r) => !r.args?.length)
  if (plain) return value(plain)
  return value({
    action: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { errnoRet: profile.defaultErrnoRet } : {}),
  })
}

/** Argument vectors around every value a check compares with, each also with high bits set. */
function vectors(conds: ArgCondition[]): bigint[][] {
  const out: bigint[][] = [[0n, 0n, 0n, 0n, 0n, 0n]]
  const near = (v: bigint) => [v, v + 1n, v - 1n, v ^ 1n, 0n, M64].map((x) => BigInt.asUintN(64, x))
  for (const c of conds)
    for (const v of [...(c.values ?? [c.value]), ...(c.mask !== undefined ? [c.mask, c.mask & c.value] : [])])
      for (const x of near(v))
        for (const high of [0n, 1n << 32n, 0xdead00000000n]) {
          const args = [0n, 0n, 0n, 0n, 0n, 0n]
          // The other conditions of the check hold, so this one decides.
          for (const o of conds)
            if (o !== c) args[o.index] = o.values?.[0] ?? (o.op === 'masked-eq' ? o.value : o.value)
          args[c.index] = BigInt.asUintN(64, x | high)
          out.push(args)
        }
  return out
}

/** The exported profile gives every call with an argument check what cordon's filter gives. */
function assertExportAgrees(spec: SeccompSpec, label: string): number {
  const { profile } = exportOci(spec)
  let compared = 0
  const names = Object.keys(syscallTable(arch.name))
  for (const name of names) {
    const leaf = leafFor(spec, name)
    if (!leaf.checks.length) continue
    for (const check of leaf.checks)
      for (const args of vectors(check.args)) {
        const want = evaluateSpec(
          spec,
          entryPoints(process.arch),
          arch.audit,
          syscallTable(arch.name)[name]!,
          args,
        )
        const got = evaluateOci(profile, name, args)
        assert.equal(got, want, `${label}: ${name}(${args.map((a) => `0x${a.toString(16)}`).join(', ')})`)
        compared++
      }
  }
  return compared
}

const spec = (flags: PolicyFlagValues, policy?: (p: ResolvedPolicy) => ResolvedPolicy) => {
  const p = policyFromFlags(flags)
  return resolveSeccomp(exportedSeccompLayers(policy ? policy(p) : p))
}

describe('32-bit argument checks in the exported OCI profile', () => {
  test('ioctl(fd, 1 << 32 | TIOCSTI) is refused by the exported terminal guard', () => {
    const { profile } = exportOci(spec({}))
    assert.equal(evaluateOci(profile, 'ioctl', [1n, (1n << 32n) | 0x5412n]), (RET.ERRNO | 1) >>> 0)
    assert.equal(evaluateOci(profile, 'ioctl', [1n, (1n << 32n) | 0x541cn]), (RET.ERRNO | 1) >>> 0)
    assert.equal(evaluateOci(profile, 'ioctl', [1n, 0x5413n]), RET.ALLOW) // TIOCGWINSZ
  })

  const POLICIES: Record<string, PolicyFlagValues> = {
    'the default profile (net none)': {},
    'the default profile, --net host --tcp-connect 443': { net: 'host', 'tcp-connect': ['443'] },
    'strict, --net loopback --tcp-bind 8080': { seccomp: 'strict', net: 'loopback', 'tcp-bind': ['8080'] },
    'the default profile, --net host': { net: 'host' },
  }
  for (const [label, flags] of Object.entries(POLICIES))
    test(`${label}: every argument check (terminal, families, fast open, listen, personality, clone, set-id) exports exactly`, () => {
      assert.ok(assertExportAgrees(spec(flags), label) > 100)
    })

  test('every operator at width 32 exports exactly, high bits included', () => {
    const ops: ArgCondition['op'][] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'masked-eq', 'in']
    const rules = ops.map((op, i) => ({
      syscalls: [['fchmod', 'fchown', 'flock', 'fsync', 'dup', 'close', 'fadvise64', 'ftruncate'][i]!],
      action: 'errno(EPERM)',
      args: [
        op === 'in'
          ? { index: 1, op, values: [5, 0x80000000], width: 32 as const }
          : op === 'masked-eq'
            ? { index: 1, op, mask: 0xf0, value: 0x30, width: 32 as const }
            : { index: 1, op, value: 0x8000_0005, width: 32 as const },
      ],
    }))
    const s = spec({}, (p) => ({ ...p, seccomp: [...p.seccomp, { rules, origin: 'test' }] }))
    assert.ok(assertExportAgrees(s, 'operators') > 50)
    assert.deepEqual(
      exportOci(s).warnings.filter((w) => /32-bit/.test(w)),
      [],
      'no warning that high bits bypass a check',
    )
  })
})

// ---- the runtimes ----------------------------------------------------------------------------

const runtimes = isRoot && hasCommand('runc') && hasCommand('runsc')

describe(
  'the probes through runc and gVisor',
  { concurrency: 1, skip: !runtimes && 'needs root, runc and runsc (apt-get install runc runsc)' },
  () => {
    let dir = ''
    let bin = ''
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'cordon-export-args-'))
      chmodSync(dir, 0o755)
      bin = join(dir, 'cordon-probes')
      copyFileSync(join(ROOT, 'build', 'native', 'cordon-probes'), bin)
      chmodSync(bin, 0o755)
    })
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    const PROBES = ['tiocsti-high-bits', 'vsock', 'net-families']
    const cases = [
      { backend: 'runc', who: 'root' },
      { backend: 'runc', who: 'plain user' },
      { backend: 'gvisor', who: 'root' }, // runsc needs root here (backends/runtime.ts)
    ]
    for (const { backend, who } of cases)
      test(`--backend ${backend} as ${who}: the high-bit TIOCSTI and the non-namespaced families are refused`, () => {
        const user = who === 'root' ? { uid: 0, gid: 0 } : ensureTestUser()
        const r = cordonAs(
          user,
          ['run', '--backend', backend, '--ro', dir, '--', bin, ...PROBES],
          dir,
          120_000,
        )
        const raws = r.stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { probe: string; outcome: string; errno?: number })
        assert.equal(raws.length, PROBES.length, r.stderr)
        for (const raw of raws) assert.equal(raw.outcome, 'blocked', JSON.stringify(raw))
        // The filter answers, not the kernel's own checks (gVisor answers every refusal EPERM).
        const tiocsti = raws.find((x) => x.probe === 'tiocsti-high-bits')!
        assert.equal(tiocsti.errno, 1, JSON.stringify(tiocsti))
      })

    const SIDE_DOORS = SIDE_DOOR_PROBES
    for (const { backend, who } of cases)
      test(`verify --backend ${backend} as ${who}, --net host --tcp-connect 443: the exported layers shut every side door`, () => {
        const user = who === 'root' ? { uid: 0, gid: 0 } : ensureTestUser()
        const args = ['verify', '--json', '--backend', backend, '--net', 'host', '--tcp-connect', '443']
        const r = cordonAs(user, [...args, ...SIDE_DOORS.flatMap((p) => ['--probe', p])], dir, 120_000)
        const out = JSON.parse(r.stdout) as {
          results: { probe: string; outcome: string; expected: boolean }[]
        }
        assert.deepEqual(
          out.results.filter((x) => x.outcome !== 'blocked' || !x.expected),
          [],
          'every probe expected and blocked',
        )
        assert.equal(out.results.length, SIDE_DOORS.length)
      })

    for (const backend of ['runc', 'gvisor'])
      test(`--backend ${backend} refuses a tcp statement no layer enforces, with the reason`, () => {
        const r = cordonAs(
          { uid: 0, gid: 0 },
          ['run', '--backend', backend, '--net', 'host', '--tcp-connect', '443', '--', 'true'],
          dir,
        )
        assert.equal(r.status, 125, r.stderr)
        assert.match(r.stderr, /Refused: no layer enforces `tcp bind \[\] connect \[443\]`/)
      })
  },
)
