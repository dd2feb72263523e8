// docker/podman exec, exec -it, run -it and update through cordon-oci (issue 24), with runc's
// behaviour as the reference. Opt-in like oci-engines.test.ts: `npm run test:engines`.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { isRoot, ROOT } from '../helpers.js'
import {
  type Engine,
  engineMissing,
  IMAGE,
  ownLimits,
  runCmd,
  startDocker,
  startPodman,
  tarOf,
  writeRootfs,
} from './oci-engines.js'

const OPT_IN = process.env.CORDON_ENGINE_TESTS === '1'
const RUNC = runCmd('sh', ['-c', 'command -v runc']).stdout.trim()
const CORDON_OCI = process.env.CORDON_OCI || join(ROOT, 'bin', 'cordon-oci')
const SCRIPT = runCmd('sh', ['-c', 'command -v script']).stdout.trim()

const gate = (engine: 'docker' | 'podman'): string | false => {
  if (!OPT_IN) return 'opt-in: npm run test:engines (starts dockerd)'
  if (!isRoot) return 'the engines run as root here'
  if (!existsSync(CORDON_OCI)) return `${CORDON_OCI} does not exist`
  return engineMissing(engine) ?? (RUNC ? false : 'runc not installed (apt-get install runc)')
}

/** What limits a process: read from /proc/PID/status inside the container. */
const LIMITS = "grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/PID/status"
const MKNOD = 'mknod /tmp/n$$ c 1 3 && echo made || echo refused'

/** Runs an engine command under a pseudo-terminal (util-linux script), as a user at a shell. */
function underPty(cmdline: string): { status: number | null; out: string } {
  const r = runCmd(SCRIPT, ['-qec', cmdline, '/dev/null'], 60_000)
  return { status: r.status, out: r.stdout + r.stderr }
}

for (const name of ['docker', 'podman'] as const) {
  describe(`${name} exec, -it and update with cordon-oci`, { skip: gate(name) }, () => {
    let work = ''
    let engine: Engine
    let cli: (args: string[]) => ReturnType<Engine['cli']>
    let cliLine = ''
    before(async () => {
      work = mkdtempSync(join(tmpdir(), `cordon-oci-exec-${name}-`))
      const rootfs = join(work, 'rootfs')
      writeRootfs(rootfs)
      const rootfsTar = join(work, 'rootfs.tar')
      writeFileSync(rootfsTar, tarOf(rootfs))
      engine =
        name === 'docker'
          ? await startDocker(work, { cordon: CORDON_OCI, runc: RUNC }, rootfsTar)
          : startPodman(work, rootfsTar)
      cli = (args) => engine.cli(args, CORDON_OCI)
      // The same command line for `script`: the engine's private stores or socket.
      cliLine =
        name === 'docker'
          ? `docker --host unix://${join(work, 'docker', 'docker.sock')}`
          : `podman --root ${join(work, 'podman', 'root')} --runroot ${join(work, 'podman', 'run')} --tmpdir ${join(work, 'podman', 'tmp')} --storage-driver vfs --cgroup-manager cgroupfs --events-backend none --runtime ${CORDON_OCI}`
    })
    after(async () => {
      await engine?.stop()
      rmSync(work, { recursive: true, force: true })
    })
    const runtimeArgs = name === 'docker' ? ['--runtime', 'cordon'] : ownLimits()
    const detached = (extra: string[] = []) => {
      const r = cli(['run', '-d', ...runtimeArgs, '--network', 'none', ...extra, IMAGE, 'sleep', '300'])
      assert.equal(r.status, 0, r.stderr)
      const id = r.stdout.trim()
      after(() => cli(['rm', '-f', id]))
      return id
    }

    test('exec runs in the container with no fewer restrictions than its init', () => {
      const id = detached()
      const init = cli(['exec', id, 'sh', '-c', LIMITS.replace('PID', () => '1')])
      assert.equal(init.status, 0, init.stderr)
      const own = cli(['exec', id, 'sh', '-c', LIMITS.replace('PID', () => '$$')])
      assert.equal(own.status, 0, own.stderr)
      assert.equal(own.stdout, init.stdout, 'the exec has the init’s caps, no_new_privs and seccomp')
      const ps = cli(['exec', id, 'sh', '-c', 'echo $$; cat /proc/1/cmdline | tr "\\0" " "'])
      assert.match(ps.stdout, /sleep 300/, 'the container’s pid namespace: pid 1 is its sleep')
      // The container cannot make a device node (Landlock); neither can an exec into it.
      const mk = cli(['exec', id, 'sh', '-c', MKNOD])
      assert.match(mk.stdout, /^refused$/m, mk.stdout + mk.stderr)
      const code = cli(['exec', id, 'sh', '-c', 'exit 7'])
      assert.equal(code.status, 7, 'the exec’s exit status is passed on')
    })

    test('exec cannot gain a capability its container lacks (exec --privileged)', () => {
      const id = detached(['--cap-drop', 'ALL'])
      const r = cli(['exec', '--privileged', id, 'sh', '-c', LIMITS.replace('PID', () => '$$')])
      // runc would give the exec every capability; cordon-oci refuses, naming the field.
      assert.notEqual(r.status, 0, r.stdout)
      assert.match(r.stderr + r.stdout, /capabilities/)
    })

    test(
      'exec -it gets a terminal of the container (console socket)',
      { skip: !SCRIPT && 'needs script (util-linux)' },
      () => {
        const id = detached()
        const r = underPty(`${cliLine} exec -it ${id} sh -c 'tty; echo done'`)
        assert.equal(r.status, 0, r.out)
        assert.match(r.out, /\/dev\/pts\/\d+/)
        assert.match(r.out, /done/)
      },
    )

    test(
      'run -it gets a terminal of the container (console socket)',
      { skip: !SCRIPT && 'needs script (util-linux)' },
      () => {
        const rt = name === 'docker' ? '--runtime cordon' : ownLimits().join(' ')
        const r = underPty(`${cliLine} run --rm -it ${rt} --network none ${IMAGE} sh -c 'tty; echo done'`)
        assert.equal(r.status, 0, r.out)
        assert.match(r.out, /\/dev\/pts\/\d+/)
        assert.match(r.out, /done/)
      },
    )

    test('update changes the memory, pids and cpu limits of a running container', () => {
      const id = detached(['--memory', '256m', '--pids-limit', '100'])
      // Podman's update has no --pids-limit; Docker's has. Both send `update --resources -`.
      const pidsArgs = name === 'docker' ? ['--pids-limit', '50'] : []
      const r = cli([
        'update',
        '--memory',
        '128m',
        '--memory-swap',
        '256m',
        ...pidsArgs,
        '--cpu-shares',
        '512',
        id,
      ])
      assert.equal(r.status, 0, r.stderr)
      const inspect = cli(['exec', id, 'sh', '-c', 'cat /proc/self/cgroup'])
      assert.equal(inspect.status, 0, inspect.stderr)
      const pidsRel = /:pids:(\S+)/.exec(inspect.stdout)?.[1] ?? /^0::(\S+)/m.exec(inspect.stdout)?.[1]
      assert.ok(pidsRel, inspect.stdout)
      // The host's view of the container's groups: find them by the container's init pid.
      const pid = cli(['inspect', '--format', '{{.State.Pid}}', id]).stdout.trim()
      const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      const v1 = (ctl: string) => new RegExp(`^\\d+:${ctl}:(\\S+)$`, 'm').exec(cg)?.[1]
      const read = (path: string) => readFileSync(path, 'utf8').trim()
      if (v1('pids')) {
        if (name === 'docker') assert.equal(read(`/sys/fs/cgroup/pids${v1('pids')}/pids.max`), '50')
        assert.equal(read(`/sys/fs/cgroup/memory${v1('memory')}/memory.limit_in_bytes`), String(128 << 20))
        assert.equal(read(`/sys/fs/cgroup/cpu${v1('cpu')}/cpu.shares`), '512')
      } else {
        const dir = `/sys/fs/cgroup${/^0::(\S+)/m.exec(cg)![1]}`
        if (name === 'docker') assert.equal(read(`${dir}/pids.max`), '50')
        assert.equal(read(`${dir}/memory.max`), String(128 << 20))
      }
    })
  })
}
