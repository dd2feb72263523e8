// tier: unit
// OCI runtime-spec seccomp JSON: export → import → compile gives the same decisions for every
// syscall on every arch; imports honour includes/excludes (arches, caps, minKernel), errnoRet,
// MASKED_EQ's value/valueTwo and 64-bit values.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { entryPoints } from '../../src/seccomp/arch.js'
import { decode, interpret, RET } from '../../src/seccomp/bpf.js'
import { compileSeccomp } from '../../src/seccomp/compile.js'
import { exportOci, importOci, type OciProfile, parseOci, stringifyOci } from '../../src/seccomp/oci.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'

/** Arguments that exercise every condition the profiles use (all below 2^32: see the width note). */
const PROBES: bigint[][] = [
  [],
  [0x7e020000n],
  [0x10000000n],
  [0n, 0x5412n],
  [0n, 0x541cn],
  [8n],
  [0x20008n],
  [0xffffffffn],
  [3n],
]

describe('OCI seccomp profiles', () => {
  for (const profile of ['default', 'strict'])
    for (const host of ['x64', 'arm64', 'riscv64'])
      test(`round trip of ${profile} on ${host}: same decision for every syscall`, () => {
        const spec = resolveSeccomp([{ profile, origin: 'test' }])
        const { profile: oci, warnings } = exportOci(spec, host)
        assert.ok(
          !warnings.some((w) => /32-bit/.test(w)),
          'int arguments export as masked 32-bit comparisons',
        )
        const text = stringifyOci(oci)
        const back = resolveSeccomp([
          importOci(parseOci(text), { arch: host, kernel: '6.18', origin: 'oci' }).layer,
        ])
        const arches = entryPoints(host)
        const a = decode(compileSeccomp(spec, arches).program)
        const b = decode(compileSeccomp(back, arches).program)
        for (const arch of arches)
          for (const [name, nr] of Object.entries(arch.table))
            for (const args of PROBES) {
              const want = interpret(a, { nr, arch: arch.audit, args }).value
              const got = interpret(b, { nr, arch: arch.audit, args }).value
              assert.equal(got, want, `${arch.name} ${name} ${args}`)
            }
      })

  test('import honours includes, excludes, errnoRet, MASKED_EQ and 64-bit values', () => {
    const text = `{
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
      "syscalls": [
        { "names": ["read", "write", "no_such_call"], "action": "SCMP_ACT_ALLOW" },
        { "names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "4.8" } },
        { "names": ["kexec_load"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "99.0" } },
        { "names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN"] } },
        { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": { "caps": ["CAP_SYS_ADMIN"] } },
        { "names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["amd64", "x32"] } },
        { "names": ["cacheflush"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["arm"] } },
        { "names": ["clone"], "action": "SCMP_ACT_ALLOW",
          "args": [{ "index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ" }] },
        { "names": ["lseek"], "action": "SCMP_ACT_ALLOW",
          "args": [{ "index": 2, "value": 18446744073709551615, "op": "SCMP_CMP_NE" }] }
      ]
    }`
    const profile: OciProfile = parseOci(text)
    const imported = importOci(profile, { arch: 'x64', kernel: '6.18.0', origin: 'fixture' })
    assert.deepEqual(imported.skipped, { rules: 3, names: ['no_such_call'] }) // kexec_load, mount, cacheflush
    const spec = resolveSeccomp([imported.layer])
    const arches = entryPoints('x64')
    const prog = decode(compileSeccomp(spec, arches).program)
    const x86 = arches[0]!
    const at = (name: string, args: bigint[] = []) =>
      interpret(prog, { nr: x86.table[name]!, arch: x86.audit, args }).value
    assert.equal(at('read'), RET.ALLOW)
    assert.equal(at('ptrace'), RET.ALLOW, 'minKernel 4.8 <= 6.18')
    assert.equal(at('kexec_load'), RET.ERRNO | 1, 'minKernel 99.0 not met')
    assert.equal(at('mount'), RET.ERRNO | 1, 'CAP_SYS_ADMIN is not kept')
    assert.equal(at('clone3'), RET.ERRNO | 38)
    assert.equal(at('arch_prctl'), RET.ALLOW)
    assert.equal(at('clone', [0x11n]), RET.ALLOW, 'MASKED_EQ: value is the mask, valueTwo (0) the datum')
    assert.equal(at('clone', [0x10000000n]), RET.ERRNO | 1)
    assert.equal(at('lseek', [0n, 0n, 0xffffffffffffffffn]), RET.ERRNO | 1, 'the 64-bit value stayed exact')
    assert.equal(at('lseek', [0n, 0n, 0xfffffffffffffffen]), RET.ALLOW)
    const withCap = resolveSeccomp([
      importOci(profile, { arch: 'x64', caps: ['sys_admin'], kernel: '6.18' }).layer,
    ])
    const p2 = decode(compileSeccomp(withCap, arches).program)
    assert.equal(interpret(p2, { nr: x86.table.mount!, arch: x86.audit }).value, RET.ALLOW)
    assert.equal(
      interpret(p2, { nr: x86.table.clone3!, arch: x86.audit }).value,
      RET.ERRNO | 1,
      'excluded by the cap',
    )
  })

  test('exported JSON keeps 64-bit values exact', () => {
    const spec = resolveSeccomp([
      {
        profile: 'none',
        rules: [
          {
            syscalls: ['lseek'],
            action: 'errno(EPERM)',
            args: [{ index: 2, op: 'eq', value: '0xfffffffffffffff0' }],
          },
        ],
        origin: 'x',
      },
    ])
    const text = stringifyOci(exportOci(spec, 'x64').profile)
    assert.match(text, /"value": 18446744073709551600\b/)
  })
})
