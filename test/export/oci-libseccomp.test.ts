// The exported OCI seccomp profile, loaded by libseccomp the way runc loads it, decides every
// syscall and every argument class as cordon's own filter does (issue 21). libseccomp lets a
// rule without arguments win over conditional rules for the same syscall and refuses rules with
// the default action; the export must mean the same under those rules, not only parse.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { policyFromFlags } from '../../src/cli/policy-flags.js'
import { seccompProfile } from '../../src/export/model.js'
import { exportedSeccompLayers } from '../../src/policy/effective.js'
import { entryPoints } from '../../src/seccomp/arch.js'
import { decode, type Insn, interpret } from '../../src/seccomp/bpf.js'
import { compileSeccomp, leafFor } from '../../src/seccomp/compile.js'
import type { OciProfile } from '../../src/seccomp/oci.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { ROOT } from '../helpers.js'

const ARCH_NAMES: Record<string, string> = {
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_RISCV64: 'riscv64',
}

function actionWord(action: string, errnoRet: number | undefined): string {
  const words: Record<string, string> = {
    SCMP_ACT_ALLOW: 'allow',
    SCMP_ACT_KILL_PROCESS: 'kill-process',
    SCMP_ACT_KILL_THREAD: 'kill-thread',
    SCMP_ACT_KILL: 'kill-thread',
    SCMP_ACT_TRAP: 'trap',
    SCMP_ACT_LOG: 'log',
  }
  if (action === 'SCMP_ACT_ERRNO') return `errno:${errnoRet ?? 1}`
  if (action === 'SCMP_ACT_TRACE') return `trace:${errnoRet ?? 0}`
  return words[action] ?? assert.fail(`action ${action}`)
}

/** The profile as libseccomp-load's input. */
function loaderInput(p: OciProfile): string {
  const lines = [
    actionWord(p.defaultAction, p.defaultErrnoRet),
    (p.architectures ?? []).map((a) => ARCH_NAMES[a]!).join(' '),
  ]
  for (const r of p.syscalls ?? [])
    for (const name of r.names)
      lines.push(
        [
          name,
          actionWord(r.action, r.errnoRet),
          ...(r.args ?? []).flatMap((a) => [a.index, a.op, a.value, a.valueTwo ?? 0].map(String)),
        ].join(' '),
      )
  return `${lines.join('\n')}\n`
}

/** Argument values around every constant a syscall's checks compare with. */
function probeArgs(spec: ReturnType<typeof resolveSeccomp>, name: string): bigint[][] {
  const leaf = leafFor(spec, name)
  const values = new Map<number, Set<bigint>>()
  for (const check of leaf.checks)
    for (const c of check.args) {
      const set = values.get(c.index) ?? new Set<bigint>([0n, 0xffffffffn, 1n << 32n, 0xffffffffffffffffn])
      for (const v of [c.value, ...(c.values ?? []), c.mask ?? 0n]) {
        const x = BigInt.asUintN(64, v)
        for (const y of [x, x + 1n, x - 1n, x | (1n << 32n), ~x & 0xffffffffn, x & 0xffffffffn])
          set.add(BigInt.asUintN(64, y))
        for (let b = 0n; b < 32n; b++) if (x & (1n << b)) set.add(1n << b)
      }
      values.set(c.index, set)
    }
  let out: bigint[][] = [[]]
  for (const [index, set] of [...values].sort(([a], [b]) => a - b))
    out = out.flatMap((args) =>
      [...set].map((v) => {
        const next = [...args]
        while (next.length < index) next.push(0n)
        next[index] = v
        return next
      }),
    )
  // A product too large to run whole: every 7th combination (deterministic, covers each value).
  return out.length > 6000 ? out.filter((_, i) => i % 7 === 0) : out
}

const compiles = spawnSync('sh', ['-c', 'command -v cc && test -e /usr/include/seccomp.h']).status === 0

describe(
  'the OCI profile under libseccomp (as runc loads it)',
  {
    skip:
      compiles || process.env.CI ? false : 'needs cc and libseccomp-dev (apt-get install gcc libseccomp-dev)',
  },
  () => {
    let dir = ''
    let loader = ''
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'cordon-libseccomp-'))
      loader = join(dir, 'libseccomp-load')
      execFileSync('cc', [
        '-O1',
        '-o',
        loader,
        join(ROOT, 'test', 'export', 'libseccomp-load.c'),
        '-lseccomp',
      ])
    })
    after(() => rmSync(dir, { recursive: true, force: true }))

    function libseccompProgram(profile: OciProfile): { prog: Insn[]; unknown: Set<string> } {
      const out = join(dir, 'filter.bpf')
      const r = spawnSync(loader, [out], { input: loaderInput(profile), encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      return { prog: decode(readFileSync(out)), unknown: new Set(r.stdout.split('\n').filter(Boolean)) }
    }

    const cases: { name: string; flags: Record<string, unknown> }[] = [
      { name: 'default profile', flags: {} },
      { name: 'minimal profile', flags: { profile: 'minimal' } },
      {
        name: 'loopback with tcp ports',
        flags: { net: 'loopback', 'tcp-connect': ['443'], 'tcp-bind': ['8080'] },
      },
      { name: 'host network', flags: { net: 'host' } },
      { name: 'an allowlist (default errno)', flags: { policy: 'allowlist' } },
    ]
    for (const c of cases)
      test(`${c.name}: libseccomp decides every syscall and argument class as cordon's filter`, () => {
        let flags = c.flags
        if (flags.policy === 'allowlist') {
          const file = join(dir, 'allowlist.yaml')
          writeFileSync(
            file,
            `extends: [default]
seccomp:
  default: errno(EACCES)
  rules:
    - syscalls: ['@basic-io', '@file-system', '@process', '@signal', '@memory', '@futex', '@network-io']
      action: allow
`,
          )
          flags = { policy: file }
        }
        const policy = policyFromFlags(flags)
        const spec = resolveSeccomp(exportedSeccompLayers(policy))
        const { profile, gaps } = seccompProfile(policy, 'x64')
        // What an allowlist leaves the runtime's own init, said as a gap: allowed there alone.
        const forRuntime = new Set(
          gaps
            .find((g) => g.why.startsWith('allowed for the program too'))
            ?.statement.slice('seccomp: '.length)
            .split(', ') ?? [],
        )
        if (flags.policy) assert.ok(forRuntime.has('epoll_ctl'), JSON.stringify(gaps))
        const theirs = libseccompProgram(profile)
        const arches = entryPoints('x64')
        const ours = decode(compileSeccomp(spec, arches).program)
        let compared = 0
        const wrong: string[] = []
        for (const arch of arches)
          for (const [name, nr] of Object.entries(arch.table)) {
            if (theirs.unknown.has(name)) continue // runc skips names its libseccomp lacks
            for (const args of probeArgs(spec, name)) {
              const want = forRuntime.has(name)
                ? 0x7fff0000
                : interpret(ours, { nr, arch: arch.audit, args }).value >>> 0
              const got = interpret(theirs.prog, { nr, arch: arch.audit, args }).value >>> 0
              compared++
              if (got !== want && wrong.length < 10)
                wrong.push(
                  `${arch.name} ${name}(${args.map((a) => `0x${a.toString(16)}`).join(', ')}): cordon 0x${want.toString(16)}, libseccomp 0x${got.toString(16)}`,
                )
            }
          }
        assert.deepEqual(wrong, [])
        assert.ok(theirs.prog.length <= 4096, `libseccomp's program: ${theirs.prog.length} instructions`)
        assert.ok(compared > 1000, String(compared))
      })

    test("an allowlist leaves runc's init Go's preemption signal and threads, nothing more", () => {
      const file = join(dir, 'narrow.yaml')
      writeFileSync(
        file,
        'seccomp:\n  profile: none\n  default: errno(EPERM)\n  rules:\n    - { action: allow, syscalls: [read, exit_group] }\n',
      )
      const { profile } = seccompProfile(policyFromFlags({ policy: file }), 'x64')
      const theirs = libseccompProgram(profile)
      const x64 = entryPoints('x64').find((a) => a.name === 'x86_64')!
      const verdict = (name: string, args: bigint[]) =>
        interpret(theirs.prog, { nr: x64.table[name]!, arch: x64.audit, args }).value >>> 0
      const ALLOW = 0x7fff0000
      assert.equal(verdict('fstatfs', [3n]), ALLOW)
      assert.equal(verdict('tgkill', [1n, 1n, 23n]), ALLOW) // SIGURG
      assert.notEqual(verdict('tgkill', [1n, 1n, 9n]), ALLOW)
      assert.equal(verdict('clone', [0x3d0f00n]), ALLOW) // Go's thread flags
      assert.notEqual(verdict('clone', [0x10000000n]), ALLOW) // CLONE_NEWUSER
      assert.notEqual(verdict('kill', [1n, 9n]), ALLOW)
    })

    test('personality: the values cordon allows pass, others are refused (setarch works)', () => {
      const policy = policyFromFlags({})
      const { prog } = libseccompProgram(seccompProfile(policy, 'x64').profile)
      const nr = entryPoints('x64')[0]!.table.personality!
      const audit = entryPoints('x64')[0]!.audit
      const at = (v: bigint) => interpret(prog, { nr, arch: audit, args: [v] }).value >>> 0
      // setarch x86_64 calls personality(PER_LINUX) and reads it back with 0xffffffff.
      assert.equal(at(0n), 0x7fff0000)
      assert.equal(at(0xffffffffn), 0x7fff0000)
      assert.equal(at(0x0040000n) >>> 16, 0x0005) // ADDR_NO_RANDOMIZE: refused
    })
  },
)
