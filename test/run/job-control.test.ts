// Job control without a console (native/launcher.c job_control): the job's SIGTSTP stops the
// command's group and its SIGCONT continues it, but only a stop of the launcher's own. A SIGCONT
// to the job (`fg`, or `timeout`, which sends one after its SIGTERM) thawed a sandbox `cordon
// freeze` had stopped with SIGSTOP (no cgroup, no init: a plain user without namespaces), and its
// handlers ran while it was to be frozen (helper-115).
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { CLI, isRoot, plainUserScratch } from '../helpers.js'

test(
  'a SIGCONT to the job does not thaw a frozen sandbox (plain user, no namespaces)',
  { skip: isRoot ? false : 'needs root to act as the test user' },
  async (t) => {
    const { dir, env, user, as } = plainUserScratch(t, 'freeze-cont', (d) => {
      mkdirSync(`${d}/w`, { recursive: true })
      chmodSync(`${d}/w`, 0o777)
    })
    const ticks = `${dir}/w/ticks`
    const count = () => readFileSync(ticks, 'utf8').length
    const run = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '-q',
        '--no-namespaces',
        '--acknowledge',
        'no-view',
        '--rw',
        `${dir}/w`,
        '--',
        'sh',
        '-c',
        `while :; do echo x >> ${ticks}; sleep 0.05; done`,
      ],
      { cwd: dir, uid: user.uid, gid: user.gid, env, stdio: 'ignore', detached: true },
    )
    const ended = new Promise((resolve) => run.on('close', (code, signal) => resolve(signal ?? code)))
    try {
      await sleep(2000)
      const ps = JSON.parse(as(['ps', '--json']).stdout) as { sandboxes: { id: string }[] }
      assert.equal(ps.sandboxes.length, 1)
      const id = ps.sandboxes[0]!.id
      assert.equal(as(['freeze', id]).status, 0)
      await sleep(300)
      const frozen = count()
      spawnSync('kill', ['-CONT', '--', `-${run.pid}`])
      await sleep(1000)
      assert.equal(count(), frozen, 'the sandbox ran again after a SIGCONT to the job')
      assert.equal(as(['thaw', id]).status, 0)
      await sleep(500)
      assert.ok(count() > frozen, 'thaw continues it')
      assert.equal(as(['kill', id]).status, 0)
    } finally {
      try {
        process.kill(-run.pid!, 'SIGKILL')
      } catch {} // ended already
      await ended
    }
  },
)
