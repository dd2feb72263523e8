// cordon export against the real consumers: the runtime-spec schema, runc on this kernel
// (the exported profile must block and allow what cordon's own run does), the Kubernetes
// OpenAPI types, and systemd-analyze.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { Pod } from 'kubernetes-models/v1/Pod'
import { parseAllDocuments } from 'yaml'
import { cgroupLayout } from '../../src/host/probe.js'
import { cordon, cordonAs, ensureTestUser, hasCommand, isRoot, projectDir, ROOT } from '../helpers.js'

const require = createRequire(import.meta.url)
const Ajv = require('ajv-draft-04') as new (o: object) => {
  addSchema(schema: object, key: string): void
  getSchema(key: string): ((data: unknown) => boolean) & { errors?: unknown }
}
const SPEC = join(ROOT, 'test', 'fixtures', 'runtime-spec')
const ajv = new Ajv({ allErrors: true, strict: false })
for (const f of readdirSync(SPEC).filter((f) => f.endsWith('.json')))
  ajv.addSchema(JSON.parse(readFileSync(join(SPEC, f), 'utf8')) as object, f)
const validConfig = (config: unknown) => {
  const v = ajv.getSchema('config-schema.json')
  assert.ok(v(config), JSON.stringify(v.errors))
}

const PROBES = join(ROOT, 'build', 'native')
const ATTACKS = ['keyctl', 'bpf', 'unshare-user', 'unshare-mount', 'mount', 'io-uring', 'userfaultfd']
const ATTACKS_MORE = ['perf-event', 'x32-entry', 'i386-entry', 'ptrace-host=1', 'chroot', 'reboot']
/** An io-weight is set where this host's cgroups take one (cordon check says): cgroup v1's
 * blkio needs the BFQ I/O scheduler, which some kernels lack; runc and cordon both refuse it. */
const ioWeightHere = () => {
  const cg = cgroupLayout()
  return cg.layout === 'v2' ? cg.v2Controllers.includes('io') : cg.blkioWeight
}

/** Every export's directory, removed after the file's tests even when one fails before its own
 * rmSync. */
const exported: string[] = []
after(() => exported.forEach((d) => rmSync(d, { recursive: true, force: true })))

function exportTo(args: string[], cwd: string): { dir: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-export-'))
  exported.push(dir)
  const r = cordon(
    ['export', ...args.slice(0, args.indexOf('--')), '-o', dir, ...args.slice(args.indexOf('--'))],
    {
      cwd,
    },
  )
  assert.equal(r.status, 0, r.stderr)
  return { dir, stderr: r.stderr }
}

describe('cordon export', () => {
  const project = projectDir()
  const strict = join(project, 'allowlist.yaml')
  const allowlist = (ioWeight: boolean) => `extends: [default]
seccomp:
  default: errno(EACCES)
  rules:
    - syscalls: ['@basic-io', '@file-system', '@process', '@signal', '@memory', '@futex', '@timer', '@ipc']
      action: allow
    - { syscalls: [keyctl], action: errno(EPERM) }
limits: { memory: 512M, pids: 256, cpus: "1.5"${ioWeight ? ', io-weight: 300' : ''} }
`
  writeFileSync(strict, allowlist(true))
  // What runs here (runc, and cordon beside it): the io-weight only where this host takes one.
  const strictHere = join(project, 'allowlist-here.yaml')
  writeFileSync(strictHere, allowlist(ioWeightHere()))

  test('oci-seccomp and the oci-bundle config validate against the runtime-spec schema', () => {
    for (const policy of [[], ['--policy', strict]]) {
      const bundle = exportTo(['--to', 'oci-bundle', ...policy, '--', '/bin/true'], project)
      const config = JSON.parse(readFileSync(join(bundle.dir, 'config.json'), 'utf8')) as Record<
        string,
        unknown
      >
      validConfig(config)
      assert.ok(existsSync(join(bundle.dir, 'rootfs')))
      const seccomp = cordon(['export', '--to', 'oci-seccomp', ...policy, '--', '/bin/true'], {
        cwd: project,
      })
      assert.equal(seccomp.status, 0, seccomp.stderr)
      validConfig({ ociVersion: '1.0.2', linux: { seccomp: JSON.parse(seccomp.stdout) } })
      rmSync(bundle.dir, { recursive: true })
    }
  })

  test(
    'runc runs the exported bundle and its seccomp profile blocks and allows what cordon run does',
    { skip: !(isRoot && hasCommand('runc')) && !process.env.CI },
    () => {
      for (const policy of [[], ['--policy', strictHere]]) {
        const cmd = [join(PROBES, 'cordon-probes'), ...ATTACKS, ...ATTACKS_MORE]
        const bundle = exportTo(['--to', 'oci-bundle', ...policy, '--ro', PROBES, '--', ...cmd], project)
        const id = `cordon-test-${process.pid}`
        const runc = spawnSync('runc', ['run', '--bundle', bundle.dir, id], {
          encoding: 'utf8',
          timeout: 60_000,
        })
        spawnSync('runc', ['delete', '--force', id])
        rmSync(bundle.dir, { recursive: true })
        assert.equal(runc.status, 0, runc.stderr)
        const own = cordon(['run', ...policy, '--ro', PROBES, '--', ...cmd], { cwd: project })
        assert.equal(own.status, 0, own.stderr)
        // Every probe forks a child first: fork (clone without namespace flags) is allowed in both.
        const outcomes = (out: string) =>
          out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { probe: string; outcome: string; errno?: number; signal?: number })
            .map((r) => `${r.probe} ${r.outcome} ${r.errno ?? ''}${r.signal ? `signal ${r.signal}` : ''}`)
        assert.deepEqual(outcomes(runc.stdout), outcomes(own.stdout))
        assert.equal(outcomes(own.stdout).length, ATTACKS.length + ATTACKS_MORE.length)
        // Allowed calls too: each everyday step gives the same status under both (issue 21:
        // personality was refused by every exported profile, so setarch failed under runc).
        const steps = [
          'setarch x86_64 /bin/true',
          'echo a | cat >/dev/null',
          'ls / >/dev/null',
          'python3 -c "import threading"',
        ]
        const script = steps.map((st) => `if ${st}; then echo ok; else echo failed; fi`).join('; ')
        const allowed = exportTo(['--to', 'oci-bundle', ...policy, '--', 'sh', '-c', script], project)
        const r2 = spawnSync('runc', ['run', '--bundle', allowed.dir, id], {
          encoding: 'utf8',
          timeout: 60_000,
        })
        spawnSync('runc', ['delete', '--force', id])
        rmSync(allowed.dir, { recursive: true })
        const own2 = cordon(['run', ...policy, '--', 'sh', '-c', script], { cwd: project })
        assert.equal(r2.stdout, own2.stdout, r2.stderr)
        if (!policy.length) assert.equal(own2.stdout, 'ok\n'.repeat(steps.length))
      }
    },
  )

  test('Kubernetes manifests validate against the Kubernetes OpenAPI types', () => {
    for (const policy of [[], ['--policy', strict, '--tcp-connect', '443']]) {
      const out = exportTo(['--to', 'kubernetes', ...policy, '--', '/bin/sh', '-c', 'echo hi'], project)
      const yamlFile = readdirSync(out.dir).find((f) => f.endsWith('.yaml'))!
      const docs = parseAllDocuments(readFileSync(join(out.dir, yamlFile), 'utf8')).map(
        (d) => d.toJS() as { kind: string; spec: Record<string, unknown> },
      )
      assert.deepEqual(
        docs.map((d) => d.kind),
        ['Pod', 'NetworkPolicy', 'SeccompProfile'],
      )
      new Pod(docs[0] as ConstructorParameters<typeof Pod>[0]).validate()
      new NetworkPolicy(docs[1] as ConstructorParameters<typeof NetworkPolicy>[0]).validate()
      // The operator's SeccompProfile spec is the runtime-spec's seccomp object.
      validConfig({ ociVersion: '1.0.2', linux: { seccomp: docs[2]!.spec } })
      const pod = docs[0]!.spec as { containers: { securityContext: Record<string, unknown> }[] }
      const sc = pod.containers[0]!.securityContext
      assert.equal(sc.allowPrivilegeEscalation, false)
      assert.equal(sc.readOnlyRootFilesystem, true)
      assert.deepEqual(sc.capabilities, { drop: ['ALL'] })
      assert.match(out.stderr, /not expressed: landlock: .*Kubernetes has no Landlock layer/)
      if (policy.length)
        assert.match(out.stderr, /not expressed: limits\.io-weight 300: a pod’s resources have no such field/)
      rmSync(out.dir, { recursive: true })
    }
    const wrapped = exportTo(['--to', 'kubernetes', '--wrap', '--', '/bin/true'], project)
    assert.ok(readdirSync(wrapped.dir).includes('sandbox.plan'))
    assert.doesNotMatch(wrapped.stderr, /no Landlock layer/)
    rmSync(wrapped.dir, { recursive: true })
  })

  // A newcomer's trial: the usage said "cordon-exec must be at /usr/local/bin/cordon-exec (npm
  // prefix -g)/bin", a path npm does not use on Debian. Each line is a command now, and the
  // files it installs exist: the plan in the output, this build's launcher.
  test('systemd --wrap: the usage installs files that exist, the launcher where ExecStart= runs it', () => {
    const out = exportTo(['--to', 'systemd', '--wrap', '--name', 'demo', '--', '/bin/true'], project)
    const unit = readFileSync(join(out.dir, 'demo.service'), 'utf8')
    const exec = /^ExecStart=(\S+) /m.exec(unit)![1]!
    const uses = out.stderr.split('\n').filter((l) => l.includes('use (in '))
    const launcher = uses.map((l) => new RegExp(`install -m 0755 (\\S+) ${exec}`).exec(l)?.[1]).find(Boolean)
    assert.ok(launcher, out.stderr)
    assert.ok(existsSync(launcher), launcher)
    assert.ok(
      uses.some((l) => l.includes('install -D -m 0644 demo.plan /etc/cordon/demo.plan')),
      out.stderr,
    )
    assert.ok(existsSync(join(out.dir, 'demo.plan')))
    rmSync(out.dir, { recursive: true })
  })

  // `cordon run` refuses a program the view hides, with the bind to add; the unit for it failed
  // only when systemd started it (helper-130: `--profile minimal -- ./x.sh`).
  test('systemd: a program the view hides is refused with the bind that shows it', () => {
    writeFileSync(join(project, 'hidden.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 })
    const args = ['export', '--to', 'systemd', '--profile', 'minimal']
    const r = cordon([...args, '--', './hidden.sh'], { cwd: project })
    assert.equal(r.status, 2, r.stderr)
    assert.match(
      r.stderr,
      /the unit would not start: \.\/hidden\.sh is \S+\/hidden\.sh on this host, and \S+ is not in the sandbox's view: add `--ro \S+`/,
    )
    assert.equal(r.stdout, '', 'no unit')
    const shown = cordon([...args, '--ro', project, '--', './hidden.sh'], { cwd: project })
    assert.equal(shown.status, 0, shown.stderr)
    assert.match(shown.stdout, new RegExp(`^ExecStart=${project}/hidden\\.sh$`, 'm'))
    // A program this host lacks is left to the host the unit is for.
    assert.equal(cordon([...args, '--', '/opt/elsewhere/tool'], { cwd: project }).status, 0)
  })

  test(
    'the systemd unit passes systemd-analyze verify',
    { skip: !hasCommand('systemd-analyze') && !process.env.CI },
    () => {
      for (const policy of [[], ['--policy', strict]]) {
        const out = exportTo(
          ['--to', 'systemd', ...policy, '--name', `cordon-test-${process.pid}`, '--', '/bin/true'],
          project,
        )
        const unit = join(out.dir, `cordon-test-${process.pid}.service`)
        const text = readFileSync(unit, 'utf8')
        const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' })
        assert.equal(r.status, 0, r.stderr)
        // The only thing systemd may say: syscall names newer than its libseccomp (listed as a gap).
        for (const line of r.stderr.split('\n').filter(Boolean))
          assert.match(line, /Failed to parse system call, ignoring: \w+$/, line)
        assert.match(text, /^NoNewPrivileges=yes$/m)
        assert.match(text, /^CapabilityBoundingSet=$/m)
        assert.match(text, /^PrivateNetwork=yes$/m)
        assert.match(text, /^InaccessiblePaths=.*-\/etc\/shadow /m)
        if (policy.length) {
          assert.match(text, /^SystemCallFilter=[a-z_]/m) // an allowlist
          assert.match(text, /^SystemCallErrorNumber=EACCES$/m)
          assert.match(text, /^MemoryMax=536870912$/m)
          assert.match(text, /^TasksMax=256$/m)
          assert.match(text, /^CPUQuota=150%$/m)
          assert.match(text, /^IOWeight=300$/m)
        } else assert.match(text, /^SystemCallFilter=~.*\bptrace:EPERM\b/m)
        rmSync(out.dir, { recursive: true })
      }
    },
  )

  test('docker: the flags say what the policy says, the profile beside them', () => {
    const out = exportTo(['--to', 'docker', '--policy', strict, '--rw', project, '--', '/bin/true'], project)
    const script = readFileSync(join(out.dir, 'allowlist.docker.sh'), 'utf8')
    for (const flag of [
      '--cap-drop ALL',
      '--security-opt no-new-privileges',
      '--security-opt "seccomp=$here/allowlist.seccomp.json"',
      '--read-only',
      '--network none',
      '--pids-limit 256',
      '--memory 536870912b',
      '--cpus 1.5',
      '--blkio-weight 300',
      `--volume ${project}:${project}:rw`,
      '--tmpfs /tmp:rw,nosuid,nodev,noexec,mode=1777',
    ])
      assert.ok(script.includes(flag), `${flag} in\n${script}`)
    assert.equal(spawnSync('sh', ['-n', join(out.dir, 'allowlist.docker.sh')]).status, 0)
    validConfig({
      ociVersion: '1.0.2',
      linux: { seccomp: JSON.parse(readFileSync(join(out.dir, 'allowlist.seccomp.json'), 'utf8')) },
    })
    assert.match(out.stderr, /not expressed: user namespace: .*userns-remap/)
    rmSync(out.dir, { recursive: true })
  })

  test('bad input: a clear error naming the flag', () => {
    const none = cordon(['export', '--', '/bin/true'])
    assert.equal(none.status, 2)
    assert.match(none.stderr, /--to must be one of oci-seccomp, docker, kubernetes, systemd, oci-bundle/)
    const many = cordon(['export', '--to', 'docker', '--', '/bin/true'], { cwd: project })
    assert.match(many.stderr, /--to docker writes .*\.docker\.sh, .*: give an output directory with -o DIR/)
    const typo = cordon(['export', '--to', 'dockr', '--', '/bin/true'])
    assert.match(typo.stderr, /got `dockr` \(did you mean `docker`\?\)/)
    const wrap = cordon(['export', '--to', 'docker', '--wrap', '--', '/bin/true'])
    assert.match(wrap.stderr, /--wrap applies to --to systemd and --to kubernetes/)
  })
})

describe('an OCI bundle exported by root', () => {
  test('says that its container root is host root', { skip: !isRoot && 'the gap is root-only' }, () => {
    const out = mkdtempSync(join(tmpdir(), 'cordon-test-bundle-'))
    try {
      const r = cordon(['export', '--to', 'oci-bundle', '-o', join(out, 'b'), '--', 'true'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, /not expressed: identity: the container's root is host root/)
      const config = JSON.parse(readFileSync(join(out, 'b', 'config.json'), 'utf8')) as {
        linux: { uidMappings?: { hostID: number }[] }
      }
      assert.ok(config.linux.uidMappings?.some((m) => m.hostID === 0))
      // Docker's too, where only the userns note hinted at it (helper-138).
      const docker = cordon(['export', '--to', 'docker', '-o', join(out, 'd'), '--', 'true'])
      assert.equal(docker.status, 0, docker.stderr)
      assert.match(docker.stderr, /not expressed: identity: the container's root is host root/)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })
})

describe('export usage lines say what the exported files need', () => {
  // The runsc line worked for no plain user (cgroups, then newuidmap), and the wrapper's
  // Dockerfile said the static launcher needed glibc in the image (helper-138).
  test(
    'a plain user is told runsc needs root; the Dockerfile says what the launcher links',
    {
      skip: !isRoot && 'makes a plain user',
    },
    () => {
      const out = mkdtempSync(join(tmpdir(), 'cordon-test-usage-'))
      try {
        const user = ensureTestUser()
        chmodSync(out, 0o777)
        const plain = cordonAs(
          user,
          ['export', '--to', 'oci-bundle', '-o', join(out, 'b'), '--', 'true'],
          out,
        )
        assert.equal(plain.status, 0, plain.stderr)
        assert.match(plain.stderr, /runsc .*as root: unprivileged, runsc cannot start its gofer/)
        const wrap = cordon(['export', '--to', 'kubernetes', '--wrap', '-o', join(out, 'k'), '--', 'true'])
        assert.equal(wrap.status, 0, wrap.stderr)
        const elf = spawnSync('file', ['-L', join(out, 'k', 'cordon-exec')], { encoding: 'utf8' }).stdout
        const first = readFileSync(join(out, 'k', 'Dockerfile.cordon'), 'utf8').split('\n')[0]!
        if (/static/.test(elf)) assert.match(first, /static: the image needs no libc/)
        else if (elf) assert.match(first, /linked against glibc/)
      } finally {
        rmSync(out, { recursive: true, force: true })
      }
    },
  )
})
