// tier: unit
// Docker's own default profile (default.json, as Debian's golang-github-docker-docker-dev ships
// it): cordon's import + compile gives Docker's decision for every syscall on every arch, for
// Docker's default capabilities and with CAP_SYS_ADMIN, and export → import keeps every decision.
// The meaning of the JSON is computed here independently of src/seccomp/oci.ts, following
// moby's profiles/seccomp setupSeccomp (includes/excludes on the host arch and caps) and
// libseccomp (a rule's args are ANDed, a syscall's rules are ORed).
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { entryPoints } from '../../src/seccomp/arch.js'
import { decode, interpret, RET } from '../../src/seccomp/bpf.js'
import { compileSeccomp } from '../../src/seccomp/compile.js'
import { exportOci, importOci, type OciProfile, parseOci, stringifyOci } from '../../src/seccomp/oci.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'

const DOCKER_DEFAULT = '/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json'
// CI installs the package, so there a missing file fails the test instead of skipping it.
const missing =
  existsSync(DOCKER_DEFAULT) || process.env.CI
    ? false
    : `Docker's default.json is not installed (apt-get install golang-github-docker-docker-dev)`

/** moby oci/caps/defaults.go: what `docker run` keeps without --cap-add. */
const DOCKER_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', riscv64: 'riscv64' }
const KERNEL = [6, 18]

/** Argument vectors that hit every condition of the profile, 64-bit edges included. */
const PROBES: bigint[][] = [
  [],
  [0n],
  [8n],
  [0x20000n],
  [0x20008n],
  [0xffffffffn],
  [0xffffffffffffffffn],
  [0x1_0000_0000n],
  [0x10000000n], // CLONE_NEWUSER
  [0x7e020000n],
  [0x00010f00n], // CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
  [0n, 0x10000000n],
  [0n, 0x00010f00n],
]

function retFor(action: string, errnoRet: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW':
      return RET.ALLOW
    case 'SCMP_ACT_ERRNO':
      return RET.ERRNO | (errnoRet ?? 1)
    default:
      throw new Error(`Docker's default profile is not expected to use ${action}`)
  }
}

/** What Docker + runc + libseccomp decide for one syscall of one entry point. */
function dockerDecision(
  profile: OciProfile,
  host: string,
  caps: Set<string>,
  name: string,
  args: bigint[],
): number {
  const arch = GOARCH[host]!
  const atLeast = (v: string) => {
    const [a = 0, b = 0] = v.split('.').map(Number)
    return KERNEL[0]! > a || (KERNEL[0] === a && KERNEL[1]! >= b)
  }
  const rules = profile.syscalls!.filter((r) => {
    const inc = r.includes ?? {}
    const exc = r.excludes ?? {}
    if (!r.names.includes(name)) return false
    if (inc.arches?.length && !inc.arches.includes(arch)) return false
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false
    if (inc.minKernel && !atLeast(inc.minKernel)) return false
    if (exc.arches?.includes(arch)) return false
    if (exc.caps?.some((c) => caps.has(c))) return false
    return true
  })
  const arg = (i: number) => args[i] ?? 0n
  const holds = (a: NonNullable<(typeof rules)[number]['args']>[number]) => {
    const v = arg(a.index)
    const value = BigInt(a.value)
    switch (a.op) {
      case 'SCMP_CMP_EQ':
        return v === value
      case 'SCMP_CMP_MASKED_EQ':
        return (v & value) === BigInt(a.valueTwo ?? 0)
      default:
        throw new Error(`unexpected comparison ${a.op}`)
    }
  }
  const actions = new Set(rules.map((r) => retFor(r.action, r.errnoRet)))
  assert.ok(actions.size <= 1, `${name}: rules with different actions (not libseccomp-defined here)`)
  const unconditional = rules.find((r) => !r.args?.length)
  const matching = unconditional ?? rules.find((r) => r.args!.every(holds))
  return matching
    ? retFor(matching.action, matching.errnoRet)
    : retFor(profile.defaultAction, profile.defaultErrnoRet)
}

const arg1 = (args: readonly bigint[]) => (args[1] ?? 0n) & 0xffffffffn

describe("Docker's default seccomp profile", { skip: missing }, () => {
  const text = missing ? '{}' : readFileSync(DOCKER_DEFAULT, 'utf8')
  const profile = parseOci(text)
  for (const host of ['x64', 'arm64', 'riscv64'])
    for (const [label, caps] of [
      ["Docker's default caps", DOCKER_CAPS],
      ['CAP_SYS_ADMIN added', [...DOCKER_CAPS, 'CAP_SYS_ADMIN']],
    ] as const)
      test(`${host}, ${label}: cordon decides as Docker for every syscall, and export → import keeps it`, () => {
        const imported = importOci(profile, { arch: host, kernel: '6.18', caps: [...caps], origin: 'docker' })
        const spec = resolveSeccomp([imported.layer])
        const arches = entryPoints(host)
        const program = decode(compileSeccomp(spec, arches).program)
        const back = resolveSeccomp([
          importOci(parseOci(stringifyOci(exportOci(spec, host).profile)), {
            arch: host,
            kernel: '6.18',
            origin: 'cordon export',
          }).layer,
        ])
        const again = decode(compileSeccomp(back, arches).program)
        const capSet = new Set<string>(caps)
        let compared = 0
        for (const arch of arches)
          for (const [name, nr] of Object.entries(arch.table))
            for (const probe of PROBES) {
              // A 32-bit entry point's arguments are 32-bit: the kernel zero-extends them.
              const args = arch.name === 'i386' ? probe.map((a) => a & 0xffffffffn) : probe
              // cordon's own guards end every filter and differ from Docker on purpose: memfd_create
              // without MFD_NOEXEC_SEAL is refused (EACCES), so code cannot run from memory.
              const want =
                name === 'memfd_create' && (arg1(args) & 8n) === 0n
                  ? 0x50000n | 13n
                  : dockerDecision(profile, host, capSet, name, args)
              const got = interpret(program, { nr, arch: arch.audit, args }).value
              assert.equal(got.toString(16), want.toString(16), `${arch.name} ${name}(${args.join(', ')})`)
              const round = interpret(again, { nr, arch: arch.audit, args }).value
              assert.equal(round.toString(16), want.toString(16), `round trip: ${arch.name} ${name}(${args})`)
              compared++
            }
        assert.ok(compared > 4000, `${compared} decisions compared`)
        // Anchors, so the reference above cannot drift with the code it checks.
        const admin = capSet.has('CAP_SYS_ADMIN')
        const on = (name: string, args: bigint[] = []) =>
          interpret(program, { nr: arches[0]!.table[name]!, arch: arches[0]!.audit, args }).value
        assert.equal(on('read'), RET.ALLOW)
        assert.equal(on('ptrace'), RET.ALLOW)
        assert.equal(on('mount'), admin ? RET.ALLOW : RET.ERRNO | 1)
        assert.equal(on('clone', [0x10000000n]), admin ? RET.ALLOW : RET.ERRNO | 1)
        assert.equal(on('clone', [0x00010f00n]), RET.ALLOW)
        assert.equal(on('clone3'), admin ? RET.ALLOW : RET.ERRNO | 38)
      })
})
