// Docker, Podman and containerd start containers with runc (the reference) and with
// cordon-oci, through the integration recipes the README gives (daemon.json `runtimes`,
// `podman --runtime`, `ctr run --runc-binary`). Opt-in: `npm run test:engines` (each engine is
// started privately, ~1 min in all); .ci/run does not install the engines.
import assert from 'node:assert/strict'
import {
  chmodSync,
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
import { after, before, describe, test } from 'node:test'
import { isRoot, ROOT } from '../helpers.js'
import {
  type Engine,
  type Result,
  type EngineName,
  engineMissing,
  IMAGE,
  ownLimits,
  runCmd,
  startContainerd,
  startDocker,
  startPodman,
  tarOf,
  writeOciArchive,
  writeRootfs,
} from './oci-engines.js'

const OPT_IN = process.env.CORDON_ENGINE_TESTS === '1'
const RUNC = runCmd('sh', ['-c', 'command -v runc']).stdout.trim()
/** The runtime under test: CORDON_OCI, else the package's own bin/cordon-oci. */
const CORDON_OCI = process.env.CORDON_OCI || join(ROOT, 'bin', 'cordon-oci')
const cordonMissing = existsSync(CORDON_OCI) ? undefined : `${CORDON_OCI} does not exist (set CORDON_OCI)`

const gate = (engine: EngineName): string | false => {
  if (!OPT_IN) return 'opt-in: npm run test:engines (starts dockerd and containerd)'
  if (!isRoot) return 'the engines run as root here'
  return engineMissing(engine) ?? (RUNC ? false : 'runc not installed (apt-get install runc)')
}

/** cordon's escape battery (native/attack.c), static: it runs in the busybox image. */
const PROBES = join(ROOT, 'build', 'native', 'cordon-probes')
const probesMissing = existsSync(PROBES) ? undefined : `${PROBES} is not built (npm run build)`

/** The image: busybox-static and the escape battery; built once for all engines. */
function image(work: string): { rootfsTar: string; ociArchive: string } {
  const rootfs = join(work, 'rootfs')
  writeRootfs(rootfs, probesMissing ? [] : [{ src: PROBES, dest: '/usr/local/bin/cordon-probes' }])
  const rootfsTar = join(work, 'rootfs.tar')
  writeFileSync(rootfsTar, tarOf(rootfs))
  const ociArchive = join(work, 'image.oci.tar')
  writeOciArchive(rootfs, ociArchive, work)
  return { rootfsTar, ociArchive }
}

/** A policy that leaves only /tmp writable (the image's root is writable to the engines). */
const POLICY = 'filesystem:\n  - ro: /\n  - dev: /dev\n  - proc: /proc\n  - rw: /tmp\n'
const LIMITS_POLICY = `${POLICY}limits:\n  pids: 64\n`
const WRITE = 'echo x > /etc/x && echo wrote || echo refused; echo y > /tmp/y && echo tmp-ok'
/** A storm that piles up processes at whatever pace this host allows, and a rule that calls 40
 * creations a second one (the default's 250 is not reached on a loaded 2-core host). */
const STORM = 'i=0; while [ $i -lt 3000 ]; do sleep 20 & i=$((i+1)); done; echo spawned; wait'
const STORM_RULES = `rules:
  - rule: fork-storm
    when: spawn
    rate: count > 40 within 1s
    then: [freeze, alert]
    priority: critical
    output: 'fork storm: {count} process creations within {window}; container frozen'
`

/** cordon-oci as an admin would install it with its policy directory and its alerts' place:
 * a wrapper that sets the runtime's environment (engines pass their own on, or none). */
function annotatedRuntime(work: string): {
  path: string
  policies: string
  monitor: string
  /** The same with the runtime's own annotations (CORDON_OCI_ANNOTATIONS): Docker's daemon here
   * speaks API 1.41, before `docker run --annotation`. */
  withPolicy: string
  withMonitor: string
  /** A policy with a pids limit, for `docker update`. */
  withLimits: string
} {
  const policies = join(work, 'policies')
  const monitor = join(work, 'monitor')
  mkdirSync(policies, { mode: 0o755 })
  writeFileSync(join(policies, 'tmp-only.yaml'), POLICY, { mode: 0o644 })
  writeFileSync(join(policies, 'storm.rules.yaml'), STORM_RULES, { mode: 0o644 })
  writeFileSync(join(policies, 'limits.yaml'), LIMITS_POLICY, { mode: 0o644 })
  const path = join(work, 'cordon-oci-annotated')
  writeFileSync(
    path,
    `#!/bin/sh\nCORDON_OCI_POLICIES='${policies}' CORDON_OCI_MONITOR_DIR='${monitor}' exec '${CORDON_OCI}' "$@"\n`,
  )
  chmodSync(path, 0o755)
  const fixed = (file: string, annotations: Record<string, string>) => {
    writeFileSync(
      join(work, file),
      `#!/bin/sh\nCORDON_OCI_ANNOTATIONS='${JSON.stringify(annotations)}' exec '${path}' "$@"\n`,
    )
    chmodSync(join(work, file), 0o755)
    return join(work, file)
  }
  return {
    path,
    policies,
    monitor,
    withPolicy: fixed('cordon-oci-policy', { 'org.cordon.policy': 'tmp-only' }),
    withMonitor: fixed('cordon-oci-monitor', { 'org.cordon.monitor': 'storm' }),
    withLimits: fixed('cordon-oci-limits', { 'org.cordon.policy': 'limits' }),
  }
}

/** Live processes whose command line names `what` (a supervisor and its container id). */
function processesNaming(what: string[]): number {
  let n = 0
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p)))
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      if (what.every((w) => cmd.includes(w))) n++
    } catch {}
  return n
}

async function until<T>(what: string, get: () => T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = get()
    if (v !== undefined) return v
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const ID_LS = 'id; ls /'

/** Every probe of the battery but the resource ones (a fork bomb and a memory hog: the
 * engines' pids and memory limits, not the runtime, answer those). Each is harmless when it
 * gets through (native/attack.c). */
const BATTERY = probesMissing
  ? ''
  : `cordon-probes ${runCmd(PROBES, ['--list'])
      .stdout.split('\n')
      .filter((n) => n && n !== 'fork-bomb' && n !== 'memory')
      .join(' ')}`

interface Outcome {
  outcome: string
  call?: string
  errno?: number
}

/** probe → its outcome, from the battery's JSON lines. */
function outcomes(stdout: string): Map<string, Outcome> {
  const m = new Map<string, Outcome>()
  for (const line of stdout.split('\n'))
    if (line.startsWith('{')) {
      const { probe, ...o } = JSON.parse(line) as Outcome & { probe: string }
      m.set(probe, o)
    }
  return m
}
// Docker and containerd keep CAP_MKNOD (Podman drops it: added back below), and the mount
// view allows device nodes on the container's root: only Landlock's make_char stops this.
const MKNOD = 'mknod /tmp/null-copy c 1 3 && echo made || echo refused'

for (const name of ['docker', 'podman', 'containerd'] as const) {
  describe(`${name} with a runtime given by path`, { skip: gate(name) }, () => {
    let work = ''
    let engine: Engine
    let annotated: ReturnType<typeof annotatedRuntime>
    before(async () => {
      work = mkdtempSync(join(tmpdir(), `cordon-oci-${name}-`))
      const img = image(work)
      annotated = annotatedRuntime(work)
      const runtimes = {
        cordon: CORDON_OCI,
        runc: RUNC,
        'cordon-policy': annotated.withPolicy,
        'cordon-monitor': annotated.withMonitor,
        'cordon-limits': annotated.withLimits,
      }
      engine =
        name === 'docker'
          ? await startDocker(work, runtimes, img.rootfsTar)
          : name === 'podman'
            ? startPodman(work, img.rootfsTar)
            : await startContainerd(work, img.ociArchive)
    })
    after(async () => {
      await engine?.stop()
      rmSync(work, { recursive: true, force: true })
    })
    const mknodExtra = name === 'podman' ? ['--cap-add', 'MKNOD'] : []

    test(`runc runs sh -c '${ID_LS}'`, () => {
      const r = engine.run(RUNC, ID_LS)
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/)
      assert.match(r.stdout, /^bin$/m)
    })

    test(`cordon-oci runs sh -c '${ID_LS}'`, { skip: cordonMissing ?? false }, () => {
      const r = engine.run(CORDON_OCI, ID_LS)
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/)
      assert.match(r.stdout, /^bin$/m)
    })

    // Docker and Podman leave no_new_privs off unless asked; Landlock then needs the runtime
    // to restrict itself while it still holds CAP_SYS_ADMIN. This run sets it, to tell the two
    // apart when the default one fails.
    if (name !== 'containerd')
      test(
        `cordon-oci runs sh -c '${ID_LS}' with no-new-privileges`,
        { skip: cordonMissing ?? false },
        () => {
          const r = engine.run(CORDON_OCI, ID_LS, ['--security-opt', 'no-new-privileges'])
          assert.equal(r.status, 0, r.stderr)
          assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/)
        },
      )

    test(
      'runc lets the container create a device node; cordon-oci refuses it (Landlock)',
      {
        skip: cordonMissing ?? false,
      },
      () => {
        const ref = engine.run(RUNC, MKNOD, mknodExtra)
        assert.equal(ref.status, 0, ref.stderr)
        assert.match(ref.stdout, /^made$/m, 'the reference must show the gap Landlock closes')
        const r = engine.run(CORDON_OCI, MKNOD, mknodExtra)
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stdout, /^refused$/m)
        assert.match(r.stderr + r.stdout, /Permission denied/)
      },
    )

    // The issue's acceptance: the battery inside a container of the engine blocks under
    // cordon-oci at least what it blocks under runc, plus what Landlock adds.
    test(
      'the escape battery blocks under cordon-oci all it blocks under runc, and more (Landlock)',
      { skip: cordonMissing ?? probesMissing ?? false },
      (t) => {
        const ref = engine.run(RUNC, BATTERY)
        assert.equal(ref.status, 0, ref.stderr)
        const r = engine.run(CORDON_OCI, BATTERY)
        assert.equal(r.status, 0, r.stderr)
        const [underRunc, underCordon] = [outcomes(ref.stdout), outcomes(r.stdout)]
        assert.ok(underRunc.size > 40, `the battery ran under runc: ${ref.stdout.slice(0, 300)}`)
        assert.deepEqual([...underCordon.keys()].sort(), [...underRunc.keys()].sort(), 'the same probes ran')
        const blocked = (m: Map<string, Outcome>) =>
          [...m].filter(([, o]) => o.outcome === 'blocked').map(([p]) => p)
        const lost = blocked(underRunc).filter((p) => underCordon.get(p)?.outcome !== 'blocked')
        const added = blocked(underCordon).filter((p) => underRunc.get(p)?.outcome !== 'blocked')
        t.diagnostic(
          `${name}: blocked under runc ${blocked(underRunc).length}, under cordon-oci ${blocked(underCordon).length}` +
            `; blocked only under cordon-oci: ${added.join(' ') || 'none'}`,
        )
        assert.deepEqual(lost, [], 'every probe runc blocks, cordon-oci blocks')
        // Landlock's own layer: the device node is refused at mknod() with EACCES (its
        // make_char right; a missing CAP_MKNOD would say EPERM), whatever stops it under runc
        // (the devices cgroup at open, or the capability).
        assert.deepEqual(
          underCordon.get('mknod'),
          { outcome: 'blocked', call: 'mknod', errno: 13 },
          `under runc: ${JSON.stringify(underRunc.get('mknod'))}`,
        )
      },
    )

    if (name === 'docker')
      test(
        "docker update cannot raise the pids limit above the runtime's org.cordon.policy",
        { skip: cordonMissing ?? false },
        () => {
          const r = engine.cli([
            'run',
            '-d',
            '--runtime',
            'cordon-limits',
            '--network',
            'none',
            IMAGE,
            'sleep',
            '60',
          ])
          assert.equal(r.status, 0, r.stderr)
          const id = r.stdout.trim().split('\n').pop()!
          try {
            const up = engine.cli(['update', '--pids-limit', '1000', id])
            assert.notEqual(up.status, 0, 'docker update over the policy must fail')
            assert.match(
              up.stderr,
              /pids\.limit 1000 is above the container's org\.cordon\.policy limit of 64/,
            )
            const down = engine.cli(['update', '--pids-limit', '32', id])
            assert.equal(down.status, 0, down.stderr)
          } finally {
            engine.cli(['rm', '-f', id])
          }
        },
      )

    // Docker 28 (`docker run --annotation`), Podman and `ctr run --annotation` pass annotations.
    test(
      'runc lets the container write /etc; cordon-oci with org.cordon.policy refuses it (Landlock)',
      { skip: cordonMissing ?? false },
      () => {
        const ref = engine.run(RUNC, WRITE)
        assert.equal(ref.status, 0, ref.stderr)
        assert.match(ref.stdout, /^wrote$/m, 'the reference must show the write the policy refuses')
        const r =
          name === 'docker'
            ? engine.run(annotated.withPolicy, WRITE)
            : engine.run(annotated.path, WRITE, ['--annotation', 'org.cordon.policy=tmp-only'])
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stdout, /^refused$/m)
        assert.match(r.stdout, /^tmp-ok$/m)
        assert.match(r.stderr + r.stdout, /can't create \/etc\/x: Permission denied/)
      },
    )

    test(
      'cordon-oci with org.cordon.monitor freezes a fork storm, alerts, and the engine removes the frozen container',
      { skip: cordonMissing ?? false },
      async () => {
        const annotation = name === 'docker' ? [] : ['--annotation', 'org.cordon.monitor=storm']
        let id: string
        let remove: () => Result
        if (name === 'containerd') {
          id = `cordon-storm-${process.pid}`
          const r = engine.cli([
            'run', '-d', '--snapshotter', 'native', '--runc-binary', annotated.path, ...annotation,
            IMAGE, id, 'sh', '-c', STORM,
          ]) // prettier-ignore
          assert.equal(r.status, 0, r.stderr)
          remove = () => {
            engine.cli(['task', 'kill', '--signal', 'SIGKILL', id])
            const d = engine.cli(['task', 'delete', '--force', id])
            engine.cli(['container', 'delete', id])
            return d
          }
        } else {
          const runtime = name === 'docker' ? ['--runtime', 'cordon-monitor'] : ownLimits()
          const r = engine.cli(
            ['run', '-d', ...runtime, '--network', 'none', '--pids-limit', '4000', ...annotation, IMAGE, 'sh', '-c', STORM],
            annotated.path,
          ) // prettier-ignore
          assert.equal(r.status, 0, r.stderr)
          id = r.stdout.trim().split('\n').pop()!
          remove = () => engine.cli(['rm', '-f', id], annotated.path)
        }
        let removed = false
        after(() => {
          if (!removed) remove()
        })
        const alerts = join(annotated.monitor, `${id}.alerts.jsonl`)
        const alert = await until('the fork-storm alert', () =>
          existsSync(alerts) && readFileSync(alerts, 'utf8').includes('fork-storm')
            ? readFileSync(alerts, 'utf8')
            : undefined,
        )
        assert.match(alert, /"actions":\["freeze","alert"\]/)
        assert.match(
          readFileSync(join(annotated.monitor, `${id}.log`), 'utf8'),
          /rule fork-storm: freeze sandbox .* \(cgroup freezer\)/,
        )
        assert.ok(processesNaming(['supervisor.js', id]) > 0, 'a supervisor (and its watchdog) watch it')
        const r = remove()
        removed = true
        assert.equal(r.status, 0, r.stderr)
        await until('the supervisor to end', () =>
          processesNaming(['supervisor.js', id]) ? undefined : true,
        )
      },
    )
  })
}
