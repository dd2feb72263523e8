// `cordon kill ID` of a sandbox with no cgroup and no pid namespace (a plain user's
// --no-namespaces run): the launcher's death used to take only the command, and its children,
// a setsid one included, lived on. Every descendant is now stopped, then killed. A process whose
// parent exited (a double fork) was no descendant at all: the host's init adopted it, and kill,
// freeze and the timeout all missed it. The launcher is now its subreaper.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { CLI, isRoot, plainUserScratch } from '../helpers.js'

describe(
  'cordon kill without a cgroup',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    test('no child of the command outlives the kill, setsid or not', async (t) => {
      const { user, dir, env, as } = plainUserScratch(t, 'kill')
      const marker = `${process.pid}`
      const run = spawn(
        process.execPath,
        [
          CLI,
          'run',
          '--no-namespaces',
          '--acknowledge',
          'no-view',
          '--',
          'sh',
          '-c',
          `setsid sh -c "sleep 4${marker} & wait" & (sleep 5${marker} &) ; sleep 3${marker}`,
        ],
        { cwd: dir, uid: user.uid, gid: user.gid, env, stdio: 'ignore' },
      )
      const left = () =>
        spawnSync('pgrep', ['-u', String(user.uid), '-f', `^sleep [345]${marker}$`], {
          encoding: 'utf8',
        }).stdout.trim()
      t.after(() => {
        for (const pid of left().split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL')
        run.kill('SIGKILL')
      })
      let id = ''
      for (let i = 0; i < 100 && (!id || left().split('\n').length < 3); i++, await sleep(100)) {
        const ps = as(['ps', '--json'])
        id = (JSON.parse(ps.stdout || '{"sandboxes":[]}').sandboxes as { id: string }[])[0]?.id ?? ''
      }
      assert.ok(id, 'the sandbox is registered')
      assert.equal(left().split('\n').length, 3, 'the three sleeps run')
      const r = as(['kill', id])
      assert.equal(r.status, 0, r.stderr)
      await sleep(500)
      assert.equal(left(), '', 'every process of the sandbox is gone')
    })

    test('the timeout kills every process of the sandbox, an orphan included', async (t) => {
      const { user, dir, env } = plainUserScratch(t, 'timeout')
      const marker = `${process.pid}`
      const left = () =>
        spawnSync('pgrep', ['-u', String(user.uid), '-f', `^sleep [678]${marker}$`], {
          encoding: 'utf8',
        }).stdout.trim()
      t.after(() => {
        for (const pid of left().split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL')
      })
      const r = spawnSync(
        process.execPath,
        [
          CLI,
          'run',
          '--no-namespaces',
          '--acknowledge',
          'no-view',
          '--timeout',
          '2s',
          '--',
          'sh',
          '-c',
          `sleep 6${marker} & (sleep 7${marker} &) ; sleep 8${marker}`,
        ],
        {
          cwd: dir,
          uid: user.uid,
          gid: user.gid,
          env,
          encoding: 'utf8',
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: 60_000,
        },
      )
      assert.match(r.stderr, /timed out after 2000 ms: the whole sandbox was killed/)
      await sleep(500)
      assert.equal(left(), '', 'every process of the sandbox is gone')
    })

    // helper-95: frozen without a cgroup (SIGSTOP to each process), then sent SIGCONT as a
    // group by `timeout` (init stays in the caller's process group; the command does not), the
    // run took init for thawed and forwarded SIGTERM to the still stopped command: it hung
    // until `cordon kill`.
    test('a frozen run whose init a group SIGCONT woke still ends on SIGTERM', async (t) => {
      const { user, dir, env, as } = plainUserScratch(t, 'frozen-cont')
      const run = spawn(process.execPath, [CLI, 'run', '-q', '--', 'sleep', `9${process.pid}`], {
        cwd: dir,
        uid: user.uid,
        gid: user.gid,
        env,
        stdio: 'ignore',
        detached: true, // a process group of its own, as timeout makes
      })
      t.after(() => run.kill('SIGKILL'))
      let id = ''
      for (let i = 0; i < 100 && !id; i++, await sleep(100)) {
        const ps = as(['ps', '--json'])
        id = (JSON.parse(ps.stdout || '{"sandboxes":[]}').sandboxes as { id: string }[])[0]?.id ?? ''
      }
      assert.ok(id, 'the sandbox is registered')
      const f = as(['freeze', id])
      assert.equal(f.status, 0, f.stderr)
      process.kill(-run.pid!, 'SIGCONT')
      await sleep(200)
      const ended = new Promise<number | null>((resolve) => run.once('exit', (code) => resolve(code)))
      process.kill(run.pid!, 'SIGTERM')
      const code = await Promise.race([ended, sleep(10_000).then(() => 'hung' as const)])
      assert.notEqual(code, 'hung', 'cordon ended within 10 s')
    })
  },
)
