// Exports as their consumers take them (issue 21): the Docker script from any directory, one
// identity in every format, Kubernetes objects never wider than the policy, a --wrap output
// that builds from its own directory, and an oci-bundle that runc runs with loopback.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { Pod } from 'kubernetes-models/v1/Pod'
import { parseAllDocuments } from 'yaml'
import { policyFromFlags } from '../../src/cli/policy-flags.js'
import { cordon, cordonAs, ensureTestUser, hasCommand, isRoot, projectDir } from '../helpers.js'

const scratch = mkdtempSync(join(tmpdir(), 'cordon-consumers-'))

function exportTo(
  format: string,
  args: string[],
  command = ['/bin/echo', 'hi'],
): { dir: string; stderr: string } {
  const dir = mkdtempSync(join(scratch, `${format}-`))
  const r = cordon(['export', '--to', format, ...args, '-o', dir, '--', ...command], { cwd: projectDir() })
  assert.equal(r.status, 0, r.stderr)
  return { dir, stderr: r.stderr }
}

interface Doc {
  apiVersion: string
  kind: string
  metadata: Record<string, unknown>
  spec: Record<string, unknown>
}
interface PodSpec {
  hostNetwork: boolean
  hostUsers?: boolean
  restartPolicy?: string
  securityContext: { runAsUser: number; runAsGroup: number; seccompProfile: { localhostProfile: string } }
  containers: {
    image: string
    resources?: { limits: Record<string, string>; requests: Record<string, string> }
  }[]
}

function kubernetes(args: string[]): { docs: Doc[]; pod: PodSpec; dir: string; stderr: string } {
  const out = exportTo('kubernetes', args)
  const docs = parseAllDocuments(readFileSync(join(out.dir, 'sandbox.yaml'), 'utf8')).map(
    (d) => d.toJS() as Doc,
  )
  new Pod(docs[0] as ConstructorParameters<typeof Pod>[0]).validate()
  return { docs, pod: docs[0]!.spec as unknown as PodSpec, ...out }
}

/** The runtimes an oci-bundle export's usage lines name (runsc when installed), each with its
 * global flags and the bundle directory it takes, under the output directory dir (its own, or
 * gvisor/): the usage names it where the export said DIR. */
function usedRuntimes(stderr: string, dir: string): { command: string[]; bundle: string }[] {
  return ['runc', ...(hasCommand('runsc') ? ['runsc'] : [])].map((program) => {
    const m = new RegExp(`use: (${program} [^\\n]*?)run --bundle (\\S+) NAME`).exec(stderr)
    assert.ok(m, `no usage line for ${program}: ${stderr}`)
    assert.ok(m[2] === dir || m[2]!.startsWith(`${dir}/`), m[2])
    return { command: m[1]!.trim().split(' '), bundle: m[2]!.slice(dir.length).replace(/^\//, '') }
  })
}

/** `RUNTIME run --bundle DIR` under a fresh id, deleted after. */
function runBundle(command: string[], dir: string) {
  const [program, ...global] = command
  const id = `cordon-consumers-${process.pid}`
  const r = spawnSync(program!, [...global, 'run', '--bundle', dir, id], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  spawnSync(program!, [...global, 'delete', '--force', id])
  return r
}

describe('exports as their consumers take them', () => {
  after(() => rmSync(scratch, { recursive: true, force: true }))

  test('docker: the script runs from any directory, with --init, -i and its arguments passed on', () => {
    const out = exportTo('docker', ['--uid', '1000'])
    // A docker that prints what it was given: the script's own behaviour is under test here.
    const bin = join(scratch, 'bin')
    mkdirSync(bin, { recursive: true })
    writeFileSync(join(bin, 'docker'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    chmodSync(join(bin, 'docker'), 0o755)
    const elsewhere = mkdtempSync(join(scratch, 'cwd-'))
    const r = spawnSync(join(out.dir, 'sandbox.docker.sh'), ['extra', 'two words'], {
      cwd: elsewhere,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    })
    assert.equal(r.status, 0, r.stderr)
    const args = r.stdout.trimEnd().split('\n')
    const seccomp = args.find((a) => a.startsWith('seccomp='))!.slice('seccomp='.length)
    assert.equal(seccomp, join(out.dir, 'sandbox.seccomp.json'))
    assert.ok(existsSync(seccomp))
    for (const flag of ['--init', '-i']) assert.ok(args.includes(flag), flag)
    assert.deepEqual(args.slice(-4), ['/bin/echo', 'hi', 'extra', 'two words'])
    // The default profile's memory is a share of this host: docker takes bytes, and the export
    // says they are this host's (helper-116), as the Kubernetes export says it has none.
    const share = (policyFromFlags({}).limits as { memoryPercent?: number }).memoryPercent
    if (share !== undefined) {
      const memory = args[args.indexOf('--memory') + 1]!
      assert.match(memory, /^\d+b$/)
      assert.ok(
        out.stderr.includes(
          `limits.memory ${share}%: docker run takes bytes: ${share}% of the exporting host's memory is written as --memory ${memory}`,
        ),
        out.stderr,
      )
    }
  })

  // The default view shows the caller's directory: a container export works from it, as the
  // systemd unit and the OCI bundle did (a newcomer's `./script.sh` ran from the image's).
  test('docker and kubernetes: the working directory the view shows is the container’s', () => {
    const docker = readFileSync(join(exportTo('docker', [], ['./run.sh']).dir, 'sandbox.docker.sh'), 'utf8')
    assert.ok(docker.includes(`--workdir ${projectDir()} `), docker)
    const { docs } = kubernetes([])
    const container = (docs[0]!.spec as unknown as { containers: { workingDir?: string }[] }).containers[0]!
    assert.equal(container.workingDir, projectDir())
    // Nothing of the caller's is shown under --profile minimal: no working directory is stated.
    const minimal = readFileSync(
      join(exportTo('docker', ['--profile', 'minimal']).dir, 'sandbox.docker.sh'),
      'utf8',
    )
    assert.doesNotMatch(minimal, /--workdir/)
  })

  test('one identity in every export: --uid 1000 is 1000:1000, --gid overrides it', () => {
    for (const [flags, want] of [
      [
        ['--uid', '1000'],
        [1000, 1000],
      ],
      [
        ['--uid', '1000', '--gid', '2000'],
        [1000, 2000],
      ],
    ] as const) {
      const docker = readFileSync(join(exportTo('docker', [...flags]).dir, 'sandbox.docker.sh'), 'utf8')
      assert.match(docker, new RegExp(`--user ${want[0]}:${want[1]} `))
      const oci = JSON.parse(
        readFileSync(join(exportTo('oci-bundle', [...flags]).dir, 'config.json'), 'utf8'),
      ) as {
        process: { user: { uid: number; gid: number } }
      }
      assert.deepEqual(oci.process.user, { uid: want[0], gid: want[1] })
      const unit = readFileSync(join(exportTo('systemd', [...flags]).dir, 'sandbox.service'), 'utf8')
      assert.match(unit, new RegExp(`^User=${want[0]}$`, 'm'))
      assert.match(unit, new RegExp(`^Group=${want[1]}$`, 'm'))
      const { pod } = kubernetes([...flags])
      assert.deepEqual([pod.securityContext.runAsUser, pod.securityContext.runAsGroup], [...want])
    }
  })

  test('kubernetes: the NetworkPolicy is never wider than the policy', () => {
    const loopback = kubernetes(['--net', 'loopback', '--tcp-connect', '443', '--tcp-bind', '8080'])
    const np = loopback.docs.find((d) => d.kind === 'NetworkPolicy')!
    assert.deepEqual([np.spec.ingress, np.spec.egress], [[], []]) // cordon's ports are on loopback only
    assert.match(
      loopback.stderr,
      /not expressed: tcp bind \[8080\] connect \[443\]: a NetworkPolicy never governs a pod’s loopback/,
    )
    const none = kubernetes([])
    const deny = none.docs.find((d) => d.kind === 'NetworkPolicy')!
    assert.deepEqual([deny.spec.ingress, deny.spec.egress], [[], []])
    const host = kubernetes(['--net', 'host', '--tcp-connect', '443', '--tcp-bind', '8080'])
    assert.equal(host.pod.hostNetwork, false) // a NetworkPolicy does not apply to a hostNetwork pod
    const exact = host.docs.find((d) => d.kind === 'NetworkPolicy')!
    assert.deepEqual(exact.spec.egress, [{ ports: [{ protocol: 'TCP', port: 443 }] }])
    assert.deepEqual(exact.spec.ingress, [{ ports: [{ protocol: 'TCP', port: 8080 }] }])
    const open = kubernetes(['--net', 'host'])
    assert.equal(open.pod.hostNetwork, true)
    assert.ok(!open.docs.some((d) => d.kind === 'NetworkPolicy'))
  })

  test('kubernetes: one-shot Pod, hostUsers false, requests a floor under the limits, the operator’s v1 API', () => {
    const { pod, docs, stderr } = kubernetes(['--memory', '512M', '--cpus', '2'])
    assert.equal(pod.restartPolicy, 'Never')
    assert.equal(pod.hostUsers, false)
    const res = pod.containers[0]!.resources!
    assert.deepEqual(res.limits, { memory: '536870912', cpu: '2000m' })
    assert.deepEqual(res.requests, { memory: String(64 * 2 ** 20), cpu: '100m' })
    const spo = docs.find((d) => d.kind === 'SeccompProfile')!
    assert.equal(spo.apiVersion, 'security-profiles-operator.x-k8s.io/v1')
    assert.equal(spo.metadata.namespace, undefined) // cluster-scoped in v1
    assert.equal(pod.securityContext.seccompProfile.localhostProfile, 'operator/sandbox.json')
    assert.doesNotMatch(stderr, /hostUsers: false \(Kubernetes/)
    // The default profile's memory is a share of this host: a limit only where the policy said
    // bytes (limits.memoryPercent, when resolved, marks a share).
    const share = (policyFromFlags({}).limits as { memoryPercent?: number }).memoryPercent
    const dflt = kubernetes([])
    const limits = dflt.pod.containers[0]!.resources?.limits ?? {}
    if (share !== undefined) {
      assert.equal(limits.memory, undefined)
      assert.match(dflt.stderr, /limits\.memory 50%: a share of the exporting host/)
    }
    const requests = dflt.pod.containers[0]!.resources?.requests ?? {}
    if (requests.memory !== undefined) assert.ok(Number(requests.memory) <= 64 * 2 ** 20)
  })

  test('kubernetes --wrap: every COPY source is in the output directory, and the pair runs here', () => {
    const { dir, pod } = kubernetes(['--wrap'])
    const dockerfile = readFileSync(join(dir, 'Dockerfile.cordon'), 'utf8')
    const sources = [...dockerfile.matchAll(/^COPY (\S+) /gm)].map((m) => m[1]!)
    assert.deepEqual(sources.sort(), ['cordon-exec', 'sandbox.plan'])
    for (const s of sources) assert.ok(readdirSync(dir).includes(s), s)
    assert.match(dockerfile, /^ARG BASE=debian:bookworm-slim$/m)
    assert.equal(pod.containers[0]!.image, 'cordon/sandbox:wrapped')
    const r = spawnSync(join(dir, 'cordon-exec'), [join(dir, 'sandbox.plan'), '--', '/bin/echo', 'hi'], {
      encoding: 'utf8',
    })
    assert.equal(r.stdout, 'hi\n', r.stderr)
  })

  test('oci-bundle: no mount hands the runtime a host device node (masks bind an empty file)', () => {
    const { dir } = exportTo('oci-bundle', ['--rw', scratch])
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
      mounts: { destination: string; type: string; source: string }[]
    }
    const binds = config.mounts.filter((m) => m.type === 'bind')
    assert.deepEqual(
      binds.filter((m) => m.source === '/dev' || m.source.startsWith('/dev/')),
      [],
    )
    const shadow = binds.find((m) => m.destination === '/etc/shadow')!
    assert.equal(readFileSync(join(dir, shadow.source), 'utf8'), '')
  })

  test(
    'oci-bundle: runc runs --net loopback with a reachable 127.0.0.1, and the gap says none is up',
    { skip: !(isRoot && hasCommand('runc')) && !process.env.CI ? 'needs root and runc' : false },
    () => {
      const cmd = [
        'python3',
        '-c',
        "import socket;s=socket.socket();s.bind(('127.0.0.1',0));s.listen();socket.create_connection(s.getsockname());print('connected')",
      ]
      const out = exportTo('oci-bundle', ['--net', 'loopback'], cmd)
      assert.doesNotMatch(out.stderr, /network loopback/)
      const id = `cordon-consumers-${process.pid}`
      const r = spawnSync('runc', ['run', '--bundle', out.dir, id], { encoding: 'utf8', timeout: 60_000 })
      spawnSync('runc', ['delete', '--force', id])
      assert.equal(r.stdout, 'connected\n', r.stderr)
      assert.match(
        exportTo('oci-bundle', []).stderr,
        /not expressed: network none: runc and runsc bring the loopback interface up/,
      )
    },
  )

  // The bundle carries cordon's init (files/cordon-init, bound at /.cordon-init): the command is
  // not the container's pid 1, which the kernel shields from signals it does not handle.
  test(
    "oci-bundle: runc and runsc run the command under the bundle's copy of cordon's init",
    { skip: !(isRoot && hasCommand('runc')) && !process.env.CI ? 'needs root and runc' : false },
    () => {
      const out = exportTo('oci-bundle', [], ['sh', '-c', 'cat /proc/1/cmdline; kill -PIPE $$'])
      assert.ok(existsSync(join(out.dir, 'files', 'cordon-init')))
      const runtimes = usedRuntimes(out.stderr, out.dir)
      assert.deepEqual(
        runtimes[1]?.command ?? [],
        hasCommand('runsc') ? ['runsc', '--rootless=false', '--network=none', '--oci-seccomp'] : [],
      )
      for (const { command, bundle } of runtimes) {
        const r = runBundle(command, join(out.dir, bundle))
        assert.match(r.stdout, /^\/\.cordon-init\0sh\0-c\0/, `${command[0]}: ${r.stderr}`)
        assert.equal(r.status, 141, `${command[0]}: ${r.stderr}`)
      }
    },
  )

  // helper-141: the line printed for runsc had no --oci-seccomp, so gVisor loaded no profile
  // (unshare, io_uring, chroot went through), and the runc profile under it broke threads (runsc
  // 2022 answers clone3 EPERM). runsc has a config of its own in the bundle (DIR/gvisor).
  test(
    'oci-bundle: each runtime as its usage line says loads the profile, and threads run',
    { skip: !(isRoot && hasCommand('runc')) && !process.env.CI ? 'needs root and runc' : false },
    () => {
      const py =
        'import ctypes, multiprocessing, threading\n' +
        'libc = ctypes.CDLL(None, use_errno=True)\n' +
        't = threading.Thread(target=print, args=("thread",)); t.start(); t.join()\n' +
        'with multiprocessing.Pool(2) as p: print("pool", sum(p.map(abs, range(-4, 0))))\n' +
        'print("unshare", libc.unshare(0x10000000), ctypes.get_errno())\n' +
        'print("io_uring", libc.syscall(425, 1, ctypes.create_string_buffer(120)), ctypes.get_errno())'
      const out = exportTo('oci-bundle', [], ['python3', '-c', py])
      for (const { command, bundle } of usedRuntimes(out.stderr, out.dir)) {
        const r = runBundle(command, join(out.dir, bundle))
        assert.equal(
          r.stdout,
          'thread\npool 10\nunshare -1 1\nio_uring -1 1\n',
          `${command.join(' ')}: ${r.stderr}`,
        )
        assert.equal(r.status, 0, r.stderr)
      }
    },
  )

  // helper-141: without a user namespace the bundle's command was host root, and killed host
  // root's processes (no pid namespace either). As in cordon's own run, it is the first id of
  // a root caller's unprivileged range.
  test(
    'oci-bundle --no-namespaces of a root caller: runc runs the command unprivileged',
    { skip: !(isRoot && hasCommand('runc')) && !process.env.CI ? 'needs root and runc' : false },
    () => {
      const victim = spawn('sleep', ['60'], { stdio: 'ignore' })
      try {
        const out = exportTo(
          'oci-bundle',
          ['--no-namespaces', '--acknowledge', 'no-view'],
          ['sh', '-c', `id -u; kill -TERM ${victim.pid} 2>/dev/null || echo refused`],
        )
        // It still signals its uid's processes (no pid namespace, no Landlock): said, not hidden.
        assert.match(out.stderr, /not expressed: scope signal: no pid namespace and no Landlock/)
        const id = `cordon-nons-${process.pid}`
        const r = spawnSync('runc', ['run', '--bundle', out.dir, id], { encoding: 'utf8', timeout: 60_000 })
        spawnSync('runc', ['delete', '--force', id])
        const [uid, said] = r.stdout.split('\n')
        assert.notEqual(Number(uid), 0, r.stderr)
        assert.equal(said, 'refused', r.stderr)
        // Not reaped while this test runs synchronously: a killed one would be a zombie.
        const state = readFileSync(`/proc/${victim.pid}/stat`, 'utf8').split(') ')[1]?.[0]
        assert.notEqual(state, 'Z', 'host root’s process lives')
      } finally {
        victim.kill('SIGKILL')
      }
    },
  )

  // A newcomer's trial: a plain user's export mapped host 0 beside the user's id (as a root
  // caller's does), which rootless runc cannot write (`fchown fd 7: operation not permitted`),
  // and kept cgroup resources rootless runc refuses without a cgroup. The bundle is the
  // caller's to run: as that user, rootless, the command uid 0 of its namespace.
  test(
    "oci-bundle of a plain user: rootless runc runs it as that user's",
    {
      skip:
        !(isRoot && hasCommand('runc')) && !process.env.CI
          ? 'needs root (to be the plain user) and runc'
          : false,
    },
    () => {
      const user = ensureTestUser()
      const dir = mkdtempSync(join(scratch, 'rootless-'))
      chmodSync(scratch, 0o755)
      chownSync(dir, user.uid, user.gid)
      const out = join(dir, 'bundle')
      const e = cordonAs(
        user,
        ['export', '--to', 'oci-bundle', '-o', out, '--', 'sh', '-c', 'id -u; echo hi'],
        dir,
      )
      assert.equal(e.status, 0, e.stderr)
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
        process: { user: { uid: number } }
        linux: { uidMappings: { hostID: number }[] }
      }
      assert.deepEqual(
        config.linux.uidMappings.map((m) => m.hostID),
        [user.uid],
      )
      const id = `cordon-rootless-${process.pid}`
      const state = join(dir, 'runc')
      const r = spawnSync('runc', ['--root', state, 'run', '--bundle', out, id], {
        encoding: 'utf8',
        timeout: 60_000,
        uid: user.uid,
        gid: user.gid,
        cwd: dir,
        input: '',
        env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: dir },
      })
      spawnSync('runc', ['--root', state, 'delete', '--force', id], { uid: user.uid, gid: user.gid })
      assert.equal(r.stdout, '0\nhi\n', r.stderr)
      assert.equal(r.status, 0, r.stderr)
    },
  )
})
