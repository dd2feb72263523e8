// 200 sequential runs must leave nothing behind on the host: mounts, processes, fds, cgroups.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { identify } from '../../src/host/signal.js'
import { descendants } from '../../src/run/process-tree.js'
import { projectDir, runSettled as run } from '../helpers.js'

const count = (dir: string) => readdirSync(dir).length
const hostMounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length

/** This process's groups (as root the default profile's limits give every run one). */
const groups = () =>
  ['pids', 'memory', 'cpu', 'freezer', 'unified']
    .map((c) => `/sys/fs/cgroup/${c}/cordon`)
    .filter(existsSync)
    .flatMap((d) => readdirSync(d).filter((n) => n.startsWith(`run-${process.pid}-`)))

test('200 sequential runs leave no mount, process, fd or cgroup behind', async () => {
  const before = { mounts: hostMounts(), fds: count('/proc/self/fd') }
  for (let i = 0; i < 200; i++) {
    const r = await run({ extends: ['default'] }, 'true', [], { context: { cwd: projectDir() } })
    assert.equal(r.code, 0)
  }
  assert.equal(hostMounts(), before.mounts, 'mounts leaked into the host namespace')
  assert.equal(count('/proc/self/fd'), before.fds, 'fds leaked in the supervising process')
  assert.deepEqual(groups(), [], 'cgroups left behind')
  // Other tests run concurrently (a fork bomb among them): count only this process's own.
  assert.deepEqual(descendants(identify([process.pid])[0]!), [], 'processes left behind')
})
