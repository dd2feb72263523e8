// A supervisor killed with SIGKILL (the OOM killer, kill -9) while its sandbox runs. Its launcher
// sees the death through a pidfd and ends the sandbox; with a pid namespace the kernel kills the
// rest, with a cgroup the launcher empties it. With neither (a plain user's --no-namespaces run,
// no delegated cgroup) it killed only the command: its children, a setsid one, a double-forked
// one and one that ignores SIGTERM, lived on. The launcher, their subreaper, now kills every
// descendant until none is left.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { CLI, isRoot, plainUserScratch } from '../helpers.js'

describe(
  'a SIGKILLed supervisor without a pid namespace or a cgroup',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    test('leaves no process of the sandbox alive', async (t) => {
      const marker = `${process.pid}`
      const { user, dir, env } = plainUserScratch(t, 'supdeath', (d) =>
        writeFileSync(
          `${d}/s.sh`,
          [
            `setsid sh -c "sleep 41${marker} & wait" &`,
            `(sleep 51${marker} &)`,
            `sh -c 'trap "" TERM; exec sleep 61${marker}' &`,
            `sleep 31${marker}`,
          ].join('\n'),
        ),
      )
      const left = () =>
        spawnSync('pgrep', ['-u', String(user.uid), '-f', `^sleep [3456]1${marker}$`], {
          encoding: 'utf8',
        })
          .stdout.trim()
          .split('\n')
          .filter(Boolean)
      const supervisor = spawn(
        process.execPath,
        [CLI, 'run', '-q', '--no-namespaces', '--acknowledge', 'no-view', '--', 'sh', `${dir}/s.sh`],
        { cwd: dir, uid: user.uid, gid: user.gid, env, stdio: 'ignore' },
      )
      t.after(() => {
        for (const pid of left()) process.kill(Number(pid), 'SIGKILL')
        supervisor.kill('SIGKILL')
      })
      for (let i = 0; i < 200 && left().length < 4; i++) await sleep(50)
      assert.equal(left().length, 4, 'the four sleeps run')
      supervisor.kill('SIGKILL')
      for (let i = 0; i < 40 && left().length; i++) await sleep(50)
      assert.deepEqual(left(), [], 'every process of the sandbox is gone')
    })
  },
)
