// A cordon run sweeps the groups of supervisors that are gone (cgroup/fs.ts removeOrphans). It
// judged a group by the pid in its name, and a pid means something only in its own pid
// namespace: a root run on the host killed the live sandbox of a cordon running in a child pid
// namespace that shares the host's cgroup tree (its supervisor's pid, 403 say, named no host
// process). Groups now carry the pid namespace and start time, and only this namespace's are
// judged.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { cgroupLayout } from '../../src/host/probe.js'
import { CLI, cordon, isRoot, projectDir } from '../helpers.js'

const layout = isRoot ? cgroupLayout().layout : undefined
const why = !isRoot
  ? 'needs root: the groups are root’s'
  : layout === 'none'
    ? 'no cgroup hierarchy on this host'
    : spawnSync('unshare', ['-p', '-f', '--mount-proc', 'true']).status !== 0
      ? 'unshare -p -f --mount-proc fails here'
      : false

/** Every cordon group directory whose name has pid `pid` in it, in any hierarchy. */
function groupsOf(pid: number): string[] {
  const parents = [
    '/sys/fs/cgroup/cordon',
    ...readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/cordon`),
  ]
  return parents.filter(existsSync).flatMap((p) => readdirSync(p).filter((n) => n.startsWith(`run-${pid}-`)))
}

test(
  'a host run leaves alone the live sandbox of a run in a child pid namespace',
  { skip: why },
  async (t) => {
    // Burn pids in the namespace so that the supervisor's is one no host process has.
    const inner = spawn(
      'unshare',
      [
        '-p',
        '-f',
        '--mount-proc',
        'sh',
        '-c',
        `for i in $(seq 1 400); do /bin/true; done; ` +
          `${process.execPath} ${CLI} run -- sh -c 'echo started; sleep 8; echo survived'; echo rc=$?`,
      ],
      {
        cwd: projectDir(),
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    t.after(() => inner.kill('SIGKILL'))
    let out = ''
    inner.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const ended = new Promise((resolve) => inner.once('close', resolve))
    for (let i = 0; i < 200 && !out.includes('started'); i++) await sleep(50)
    assert.match(out, /started/)
    const r = cordon(['run', '--', 'true'])
    assert.equal(r.status, 0, r.stderr)
    await ended
    assert.match(out, /survived\nrc=0/, `the namespaced run was killed: ${out}`)
  },
)

test(
  'a killed supervisor’s group is still swept by the next run of its namespace',
  { skip: why },
  async () => {
    const cli = spawn(process.execPath, [CLI, 'run', '--', 'sleep', '60'], {
      cwd: projectDir(),
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      stdio: 'ignore',
    })
    for (let i = 0; i < 200 && groupsOf(cli.pid!).length === 0; i++) await sleep(50)
    assert.ok(groupsOf(cli.pid!).length > 0, 'the run made its groups')
    assert.match(groupsOf(cli.pid!)[0]!, /^run-\d+-\d+-\d+-n\d+s\d+$/)
    cli.kill('SIGKILL')
    await new Promise((resolve) => cli.once('close', resolve))
    const r = cordon(['run', '--', 'true'])
    assert.equal(r.status, 0, r.stderr)
    for (let i = 0; i < 40 && groupsOf(cli.pid!).length > 0; i++) await sleep(50)
    assert.deepEqual(groupsOf(cli.pid!), [], 'the dead supervisor’s groups are gone')
  },
)
