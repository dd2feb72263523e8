// The network statements' seccomp half (seccomp/network.ts): what the filter refuses for each
// kind of network, judged by the reference evaluator and by the compiled program; the TCP
// statement's status; and the escape probes against the real kernel, as root and as a plain
// user, namespaced, without namespaces and audited.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { mkdtempSync, copyFileSync, chmodSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { spawn as spawnChild } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { policyFromFlags, type PolicyFlagValues } from '../../src/cli/policy-flags.js'
import { enforcedSeccompLayers } from '../../src/policy/effective.js'
import { statementStatus } from '../../src/status/statements.js'
import { backendStatus, refuseUnenforcedOnBackend } from '../../src/backends/status.js'
import { archByName, entryPoints } from '../../src/seccomp/arch.js'
import { decode as decodeProgram, interpret, RET } from '../../src/seccomp/bpf.js'
import { compileSeccomp } from '../../src/seccomp/compile.js'
import { evaluateSpec } from '../../src/seccomp/reference.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { syscallTable } from '../../src/seccomp/tables.js'
import { probeKernel } from '../../src/host/probe.js'
import { CLI, ensureTestUser, isRoot, ROOT, SIDE_DOOR_PROBES } from '../helpers.js'

const HOST_TCP: PolicyFlagValues = { net: 'host', 'tcp-connect': ['443'] }
const LOOPBACK_BIND: PolicyFlagValues = { net: 'loopback', 'tcp-bind': ['8080'] }
const NONE: PolicyFlagValues = {}
const HOST: PolicyFlagValues = { net: 'host' }

const AF_INET = 2n
const AF_INET6 = 10n
const AF_VSOCK = 40n
const MSG_FASTOPEN = 0x20000000n
const MSG_NOSIGNAL = 0x4000n
const EACCES = 13
const EAFNOSUPPORT = 97
const ALLOW = 'allow'

type Want = typeof ALLOW | number
const cases: { name: string; call: string; args: bigint[]; want: Record<string, Want> }[] = [
  {
    name: 'sendto with MSG_FASTOPEN',
    call: 'sendto',
    args: [3n, 0n, 1n, MSG_FASTOPEN | MSG_NOSIGNAL],
    want: { HOST_TCP: EACCES, LOOPBACK_BIND: EACCES, NONE: ALLOW, HOST: ALLOW },
  },
  {
    name: 'sendto without it',
    call: 'sendto',
    args: [3n, 0n, 1n, MSG_NOSIGNAL],
    want: { HOST_TCP: ALLOW },
  },
  {
    name: 'sendmsg with MSG_FASTOPEN (flags are arg 2)',
    call: 'sendmsg',
    args: [3n, 0n, MSG_FASTOPEN],
    want: { HOST_TCP: EACCES, NONE: ALLOW },
  },
  {
    name: 'sendmmsg with MSG_FASTOPEN (flags are arg 3)',
    call: 'sendmmsg',
    args: [3n, 0n, 1n, MSG_FASTOPEN],
    want: { HOST_TCP: EACCES, NONE: ALLOW },
  },
  {
    name: 'setsockopt TCP_FASTOPEN_CONNECT',
    call: 'setsockopt',
    args: [3n, 6n, 30n],
    want: { HOST_TCP: EACCES, HOST: ALLOW },
  },
  { name: 'setsockopt TCP_NODELAY', call: 'setsockopt', args: [3n, 6n, 1n], want: { HOST_TCP: ALLOW } },
  {
    name: 'listen',
    call: 'listen',
    args: [3n, 1n],
    want: { HOST_TCP: EACCES, LOOPBACK_BIND: ALLOW, NONE: ALLOW },
  },
  {
    name: 'a TCP socket with SOCK_NONBLOCK | SOCK_CLOEXEC',
    call: 'socket',
    args: [AF_INET6, 0x80801n, 6n],
    want: { HOST_TCP: ALLOW, NONE: ALLOW },
  },
  { name: 'UDP', call: 'socket', args: [AF_INET, 2n, 0n], want: { HOST_TCP: EACCES, NONE: ALLOW } },
  { name: 'SCTP', call: 'socket', args: [AF_INET, 1n, 132n], want: { HOST_TCP: EACCES } },
  { name: 'MPTCP', call: 'socket', args: [AF_INET6, 1n, 262n], want: { HOST_TCP: EACCES, NONE: ALLOW } },
  {
    name: 'vsock',
    call: 'socket',
    args: [AF_VSOCK, 1n, 0n],
    want: { HOST_TCP: EAFNOSUPPORT, LOOPBACK_BIND: EAFNOSUPPORT, NONE: EAFNOSUPPORT, HOST: ALLOW },
  },
  {
    name: 'vsock with high bits in the family (the kernel reads an int)',
    call: 'socket',
    args: [(1n << 32n) | AF_VSOCK, 1n, 0n],
    want: { NONE: EAFNOSUPPORT },
  },
  { name: 'Bluetooth', call: 'socket', args: [31n, 5n, 0n], want: { NONE: EAFNOSUPPORT, HOST: ALLOW } },
  {
    name: 'a family newer than the list',
    call: 'socket',
    args: [200n, 1n, 0n],
    want: { NONE: EAFNOSUPPORT },
  },
  { name: 'socketpair(AF_TIPC)', call: 'socketpair', args: [30n, 5n, 0n], want: { NONE: EAFNOSUPPORT } },
  {
    name: 'the families a sandbox keeps',
    call: 'socket',
    args: [1n, 1n, 0n],
    want: { NONE: ALLOW, HOST_TCP: ALLOW },
  },
  { name: 'netlink', call: 'socket', args: [16n, 3n, 0n], want: { NONE: ALLOW } },
  { name: 'AF_ALG', call: 'socket', args: [38n, 5n, 0n], want: { NONE: ALLOW, HOST_TCP: ALLOW } },
]

const POLICIES: Record<string, PolicyFlagValues> = { HOST_TCP, LOOPBACK_BIND, NONE, HOST }
const arch = archByName(process.arch)!

function outcome(flags: PolicyFlagValues, call: string, args: bigint[]): { reference: number; bpf: number } {
  const spec = resolveSeccomp(enforcedSeccompLayers(policyFromFlags(flags)))
  const arches = entryPoints(process.arch)
  const nr = syscallTable(arch.name)[call]!
  const full = [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6)
  const reference = evaluateSpec(spec, arches, arch.audit, nr, full)
  const program = compileSeccomp(spec, arches).program
  const bpf = interpret(decodeProgram(program), { nr, arch: arch.audit, args: full }).value
  return { reference, bpf }
}

const expected = (w: Want) => (w === ALLOW ? RET.ALLOW : (RET.ERRNO | w) >>> 0)

describe('the network layers of the filter', () => {
  for (const c of cases)
    test(`${c.name}: ${Object.entries(c.want)
      .map(([p, w]) => `${p} ${w === ALLOW ? 'allowed' : `errno ${w}`}`)
      .join(', ')}`, () => {
      for (const [name, want] of Object.entries(c.want)) {
        const got = outcome(POLICIES[name]!, c.call, c.args)
        assert.equal(got.reference, expected(want), `${name}: reference`)
        assert.equal(got.bpf, got.reference, `${name}: the compiled program agrees with the reference`)
      }
    })

  test("a policy's own refusal of socket() holds with tcp statements (the layers only refuse)", () => {
    const policy = policyFromFlags(HOST_TCP)
    const own = {
      ...policy,
      seccomp: [
        ...policy.seccomp,
        { rules: [{ syscalls: ['socket'], action: 'errno(EPERM)' }], origin: 'test' },
      ],
    }
    const spec = resolveSeccomp(enforcedSeccompLayers(own))
    const nr = syscallTable(arch.name).socket!
    const got = evaluateSpec(spec, entryPoints(process.arch), arch.audit, nr, [AF_INET, 1n, 0n, 0n, 0n, 0n])
    assert.equal(got, (RET.ERRNO | 1) >>> 0)
  })
})

describe('the tcp statement status', () => {
  const tcp = (flags: PolicyFlagValues, abi: number) =>
    statementStatus(policyFromFlags(flags), abi).find((s) => s.statement.startsWith('tcp '))!

  test('full with Landlock when no bind port is allowed (listen is refused)', () => {
    assert.equal(tcp(HOST_TCP, 7).status, 'full')
  })
  test('partial with bind ports: a listen() without bind() takes a port no layer judges', () => {
    const s = tcp(LOOPBACK_BIND, 7)
    assert.equal(s.status, 'partial')
    assert.match(s.missing[0]!.why, /listen\(\) on an unbound socket/)
  })
  test('none without Landlock: seccomp alone judges no port', () => {
    assert.equal(tcp(HOST_TCP, 3).status, 'none')
  })
  for (const backend of ['runc', 'gvisor'] as const)
    test(`${backend}: none, and run refuses it with the reason and the fix`, () => {
      const policy = policyFromFlags(HOST_TCP)
      const host = { uid: 0, cgroup: { ok: true, why: '' } }
      const statements = backendStatus(policy, backend, { abi: 0 }, host)
      assert.equal(statements.find((s) => s.statement.startsWith('tcp '))!.status, 'none')
      assert.throws(
        () => refuseUnenforcedOnBackend(policy, statements, backend),
        /no layer enforces `tcp bind \[\] connect \[443\]` on --backend .*Use --backend native/,
      )
      // Without tcp statements there is nothing of the ports to refuse (on runc the host's
      // abstract sockets are, unless acknowledged: test/backends/abstract-host.test.ts).
      const plain = policyFromFlags({ ...HOST, acknowledge: ['scopes'] })
      refuseUnenforcedOnBackend(plain, backendStatus(plain, backend, { abi: 0 }, host), backend)
    })
})

// ---- the real kernel -------------------------------------------------------------------------

const PROBES = SIDE_DOOR_PROBES
const TAKES_PORT = new Set([
  'tcp-fastopen',
  'tcp-fastopen6',
  'tcp-fastopen-sendmsg',
  'tcp-fastopen-sendmmsg',
  'tcp-fastopen-connect',
  'mptcp-connect',
])

interface Raw {
  probe: string
  outcome: string
  call?: string
  errno?: number
  detail?: string
}

/** The CLI as root or as the test user, asynchronously (the host listener answers meanwhile). */
function cli(
  cwd: string,
  args: string[],
  user?: { uid: number; gid: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnChild(process.execPath, [CLI, ...args], {
      cwd,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
        HOME: user ? '/nonexistent' : (process.env.HOME ?? '/root'),
        NODE_EXTRA_CA_CERTS: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => (stdout += b))
    child.stderr.on('data', (b: Buffer) => (stderr += b))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const kernel = probeKernel()
const landlockNet = kernel.landlock.abi >= 4

describe(
  'the probes against the real kernel',
  { concurrency: 1, skip: !isRoot && 'needs root (to run as the test user too)' },
  () => {
    let server: Server
    let port = 0
    let dir = ''
    let bin = ''
    const users: { label: string; user?: { uid: number; gid: number } }[] = [{ label: 'root' }]

    // A host listener, and a probes binary every user can run.
    before(async () => {
      server = createServer((s) => s.destroy())
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      port = (server.address() as { port: number }).port
      dir = mkdtempSync(join(tmpdir(), 'cordon-net-'))
      chmodSync(dir, 0o755)
      bin = join(dir, 'cordon-probes')
      copyFileSync(join(ROOT, 'build', 'native', 'cordon-probes'), bin)
      chmodSync(bin, 0o755)
      users.push({ label: 'plain user', user: ensureTestUser() })
    })
    after(() => {
      server?.close()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    const labels = () => PROBES.map((p) => (TAKES_PORT.has(p) ? `${p}=${port}` : p))
    async function probe(
      mode: string[],
      user?: { uid: number; gid: number },
    ): Promise<{ got: Map<string, Raw>; stderr: string }> {
      const r = await cli(dir, ['run', '--ro', `${dir}`, ...mode, '--', bin, ...labels()], user)
      const raws = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Raw)
      assert.equal(raws.length, PROBES.length, `${mode.join(' ')}: ${r.stderr}`)
      return { got: new Map(raws.map((x) => [x.probe.split('=')[0]!, x])), stderr: r.stderr }
    }

    /** With tcp statements, every probe: refused by seccomp (errno by the filter's rule). */
    const SHUT = Object.fromEntries(
      PROBES.map((p) => [
        p,
        p === 'vsock' || p === 'net-families'
          ? 'EAFNOSUPPORT'
          : p === 'tiocsti-high-bits'
            ? 'EPERM'
            : 'EACCES',
      ]),
    )
    const modes: { name: string; flags: string[]; blocked: Record<string, string>; audited?: true }[] = [
      {
        name: 'namespaced, --net host --tcp-connect 443',
        flags: ['--net', 'host', '--tcp-connect', '443'],
        blocked: SHUT,
      },
      {
        name: '--no-namespaces --tcp-connect 443',
        flags: ['--no-namespaces', '--acknowledge', 'no-view', '--net', 'host', '--tcp-connect', '443'],
        // Without a view /dev/ptmx is not among the devices Landlock grants (openat EACCES): the
        // probe gets no terminal of its own; the same filter refuses the ioctl in the other modes.
        blocked: { ...SHUT, 'tiocsti-high-bits': 'EACCES' },
      },
      // Audit refuses nothing of the policy's: the tcp section's side doors go through and are
      // each reported (helper-138, helper-139); the families no namespace holds stay refused.
      {
        name: '--audit --net host --tcp-connect 443',
        flags: ['--audit', '--net', 'host', '--tcp-connect', '443'],
        blocked: { vsock: 'EAFNOSUPPORT', 'net-families': 'EAFNOSUPPORT', 'tiocsti-high-bits': 'EPERM' },
        audited: true,
      },
      {
        name: 'namespaced, --net none (the default)',
        flags: [],
        blocked: {
          vsock: 'EAFNOSUPPORT',
          'net-families': 'EAFNOSUPPORT',
          'tiocsti-high-bits': 'EPERM',
          'tcp-fastopen': 'ENETUNREACH',
        },
      },
    ]
    const ERRNO: Record<string, number> = { EACCES: 13, EAFNOSUPPORT: 97, EPERM: 1, ENETUNREACH: 101 }

    for (const mode of modes)
      for (const who of ['root', 'plain user'])
        test(
          `${mode.name}, as ${who}: every side door is shut`,
          {
            skip:
              !landlockNet &&
              mode.flags.includes('--tcp-connect') &&
              'no Landlock TCP port rules on this kernel (the tcp statement says none)',
          },
          async () => {
            const user = users.find((u) => u.label === who)?.user
            const { got, stderr } = await probe(mode.flags, user)
            for (const [name, errno] of Object.entries(mode.blocked)) {
              const r = got.get(name)!
              assert.equal(r.outcome, 'blocked', `${name}: ${JSON.stringify(r)}`)
              assert.equal(r.errno, ERRNO[errno], `${name}: ${JSON.stringify(r)}`)
            }
            if (mode.audited) {
              for (const name of PROBES.filter((p) => !(p in mode.blocked)))
                assert.notEqual(
                  got.get(name)!.outcome,
                  'blocked',
                  `${name}: ${JSON.stringify(got.get(name))}`,
                )
              assert.match(stderr, /would have denied \d+:/)
              for (const call of ['sendto', 'sendmsg', 'setsockopt', 'listen', 'socket'])
                assert.match(
                  stderr,
                  new RegExp(`seccomp ${call}\\b.*the tcp: section's seccomp layer`),
                  stderr,
                )
            }
          },
        )
  },
)
