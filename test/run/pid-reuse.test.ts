// A pid names a process only until it is reaped; then the kernel hands it to the next one. The
// sweeps that stop, resume and kill a sandbox without a cgroup, and cordon's signals to a
// registered launcher, used to signal bare pids, so a launcher or a sandbox process that ended
// during a sweep could have its pid, and the signal, taken by an unrelated process. They now
// name every process by pid and start time and signal through a checked pidfd
// (cordon-exec --signal). The reuse is forced here, deterministically, in a pid namespace of
// the test's own, where ns_last_pid says which pid comes next.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { isRoot, ROOT } from '../helpers.js'

const built = (path: string) => JSON.stringify(join(ROOT, 'build', 'src', path))

// Runs in the new pid namespace: a launcher-like process with a child ends, and a new one with
// a child of its own gets its pid; the old identity must reach neither of them.
const SCRIPT = `
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
const { identify, signalProcesses } = await import(${built('host/signal.js')})
const { descendants, freezeSandbox, killFrozen } = await import(${built('run/process-tree.js')})
const settle = () => new Promise((r) => setTimeout(r, 200))
const tree = () => spawn('sh', ['-c', 'sleep 100 & wait'], { stdio: 'ignore' })
const old = tree()
await settle()
const gone = identify([old.pid])[0]
spawnSync('pkill', ['-KILL', '-P', String(old.pid)])
old.kill('SIGKILL')
await new Promise((r) => old.once('exit', r))
writeFileSync('/proc/sys/kernel/ns_last_pid', String(gone.pid - 1))
const now = tree()
await settle()
const stopped = () => spawnSync('ps', ['-o', 'stat=', '--ppid', String(now.pid)], { encoding: 'utf8' }).stdout.trim()
const out = {
  reused: now.pid === gone.pid,
  signalled: signalProcesses([gone], 'SIGSTOP'),
  frozen: freezeSandbox(undefined, gone) ?? 'nothing',
  childState: stopped(),
}
killFrozen(undefined, gone)
out.alive = descendants(identify([now.pid])[0]).length
spawnSync('pkill', ['-KILL', '-P', String(now.pid)])
now.kill('SIGKILL')
console.log(JSON.stringify(out))
`

describe(
  'signals by identity',
  { skip: isRoot ? false : 'needs root for a pid namespace and ns_last_pid' },
  () => {
    test('a pid reused after its process ended is not signalled by a sweep or a check', () => {
      const r = spawnSync(
        'unshare',
        ['--pid', '--fork', '--mount-proc', process.execPath, '--input-type=module', '-e', SCRIPT],
        {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        },
      )
      assert.equal(r.status, 0, r.stderr)
      const out = JSON.parse(r.stdout) as Record<string, unknown>
      assert.equal(out.reused, true, 'the namespace handed the old pid to the new process')
      assert.equal(out.signalled, 0, 'cordon-exec --signal refused the old identity')
      assert.equal(out.frozen, 'nothing', 'the freeze sweep found no sandbox under the old identity')
      assert.match(String(out.childState), /^S/, "the new process's child was not stopped")
      assert.equal(out.alive, 1, "the kill sweep left the new process's child alone")
    })

    test('cordon-exec --signal signals a process whose start time matches, and checks its arguments', () => {
      const sleeper = spawnSync(
        'sh',
        ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!; awk "{print \\$22}" /proc/$!/stat'],
        {
          encoding: 'utf8',
        },
      )
      const [pid, start] = sleeper.stdout.trim().split('\n')
      const launcher = join(ROOT, 'build', 'native', 'cordon-exec')
      try {
        const wrong = spawnSync(launcher, ['--signal', '9', `${pid}:${Number(start) + 1}`], {
          encoding: 'utf8',
        })
        assert.equal(wrong.stdout.trim(), '0')
        const right = spawnSync(launcher, ['--signal', '9', `${pid}:${start}`], { encoding: 'utf8' })
        assert.equal(right.stdout.trim(), '1')
        for (const bad of [['x'], ['9', '12'], ['9', '12:'], ['65', '1:1']]) {
          const r = spawnSync(launcher, ['--signal', ...bad], { encoding: 'utf8' })
          assert.equal(r.status, 2, `--signal ${bad.join(' ')}`)
          assert.match(r.stderr, /cordon-exec --signal: expected/)
        }
      } finally {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {}
      }
    })
  },
)
