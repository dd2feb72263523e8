// A sandbox with neither a pid namespace nor a cgroup (a plain user's --no-namespaces run, no
// delegated cgroup) ends as a namespaced one does, every process with it:
// - when its supervisor is killed with SIGKILL (the OOM killer, kill -9): its launcher sees the
//   death through a pidfd, and killed only the command; the command's children, a setsid one, a
//   double-forked one and one that ignores SIGTERM, lived on;
// - when its command exits: what it left running outlived the run, its timeout and its monitor;
// - when the library's kill('SIGKILL') ends the launcher, which then could end nothing.
// The launcher, their subreaper, now kills every descendant until none is left, and the
// library's SIGKILL stops and kills each process first, as its timeout does.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { join } from 'node:path'
import { CLI, isRoot, plainUserScratch, ROOT } from '../helpers.js'

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
        // The supervisor removes the run's private /tmp when the run ends; killed, it cannot, and
        // the test user's next run would (run/private-tmp-sweep). Only private /tmp names
        // (run/private-tmp.ts): another file's scratch directory may start alike.
        for (const name of readdirSync('/tmp'))
          if (
            /^cordon-tmp-(\d+_\d+_\d+|unowned)_[A-Za-z0-9]{6}$/.test(name) &&
            statSync(`/tmp/${name}`).uid === user.uid
          )
            rmSync(`/tmp/${name}`, { recursive: true, force: true })
      })
      for (let i = 0; i < 200 && left().length < 4; i++) await sleep(50)
      assert.equal(left().length, 4, 'the four sleeps run')
      supervisor.kill('SIGKILL')
      for (let i = 0; i < 40 && left().length; i++) await sleep(50)
      assert.deepEqual(left(), [], 'every process of the sandbox is gone')
    })

    test('what the command leaves running ends with it', async (t) => {
      const marker = `${process.pid}`
      const { user, as } = plainUserScratch(t, 'leftover')
      const left = () =>
        spawnSync('pgrep', ['-u', String(user.uid), '-f', `^sleep 9[12]${marker}$`], { encoding: 'utf8' })
          .stdout.trim()
          .split('\n')
          .filter(Boolean)
      t.after(() => {
        for (const pid of left()) process.kill(Number(pid), 'SIGKILL')
      })
      const r = as([
        'run',
        '-q',
        '--no-namespaces',
        '--acknowledge',
        'no-view',
        '--',
        'sh',
        '-c',
        `(sleep 91${marker} >/dev/null 2>&1 &); setsid sleep 92${marker} >/dev/null 2>&1 & echo started`,
      ])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.trim(), 'started')
      for (let i = 0; i < 20 && left().length; i++) await sleep(50)
      assert.deepEqual(left(), [], 'nothing the command started outlives the run')
    })

    test("the library's kill('SIGKILL') ends every process", async (t) => {
      const marker = `${process.pid}`
      const { user, dir, env } = plainUserScratch(t, 'libkill')
      const left = () =>
        spawnSync('pgrep', ['-u', String(user.uid), '-f', `^sleep 7[123]${marker}$`], { encoding: 'utf8' })
          .stdout.trim()
          .split('\n')
          .filter(Boolean)
      t.after(() => {
        for (const pid of left()) process.kill(Number(pid), 'SIGKILL')
      })
      const script = `
        const { spawn, NO_NAMESPACES } = await import(${JSON.stringify(join(ROOT, 'build', 'src', 'index.js'))})
        const s = spawn(
          { extends: ['default'], namespaces: { ...NO_NAMESPACES, net: false }, acknowledge: ['no-view'] },
          'sh', ['-c', 'setsid sleep 71${marker} & (sleep 72${marker} &); sleep 73${marker}'],
          { stdio: 'ignore', cwd: ${JSON.stringify(dir)} },
        )
        s.on('error', (e) => { console.error(e.message); process.exit(3) })
        for (let i = 0; i < 100; i++) {
          await new Promise((r) => setTimeout(r, 50))
          if (s.launcherPid && (await import('node:child_process')).spawnSync('pgrep', ['-f', '^sleep 7[123]${marker}$']).stdout.toString().trim().split('\\n').length === 3) break
        }
        s.kill('SIGKILL')
        console.log((await s.exited).signal)`
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: dir,
        uid: user.uid,
        gid: user.gid,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      })
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.trim(), 'SIGKILL')
      for (let i = 0; i < 20 && left().length; i++) await sleep(50)
      assert.deepEqual(left(), [], 'every process of the sandbox is gone')
    })
  },
)
