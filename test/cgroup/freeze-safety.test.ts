// Freezing is safe: a signal to the supervisor of a frozen sandbox kills it through its group
// (a frozen process cannot act on a signal and would wait for good), and a supervisor that
// dies while its sandbox is frozen leaves nothing behind once the next cordon run sweeps.
import assert from 'node:assert/strict'
import { spawn as spawnChild } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawn } from '../../src/index.js'
import { CLI, cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'

interface PsRow {
  id: string
  command: string[]
}
const rowOf = (stdout: string, argv: string[]) =>
  (JSON.parse(stdout) as { sandboxes: PsRow[] }).sandboxes.find((r) => r.command.join(' ') === argv.join(' '))
    ?.id

/** Pids whose command line is exactly argv (a unique sleep duration marks a test's sandbox). */
function pidsOf(argv: string[]): number[] {
  const want = `${argv.join('\0')}\0`
  const out: number[] = []
  for (const pid of readdirNumeric('/proc'))
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === want) out.push(pid)
    } catch {}
  return out
}
const readdirNumeric = (dir: string) =>
  readdirSync(dir)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)

/** Ends what a test left running: the sandbox's processes, by their command line. */
function killAll(argv: string[]): void {
  for (const p of pidsOf(argv))
    try {
      process.kill(p, 'SIGKILL')
    } catch {}
}

async function until<T>(what: string, get: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = get()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

describe('freezing is safe', () => {
  test(
    'SIGTERM to the supervisor of a frozen sandbox kills it through the group',
    { skip: !isRoot && 'cgroups need root here' },
    async () => {
      const child = spawn({ extends: ['default'], limits: { pids: 50 } }, 'sleep', ['301.5'], {
        stdio: 'ignore',
        context: { cwd: projectDir() },
      })
      await until('the sandbox', () => (pidsOf(['sleep', '301.5']).length ? true : undefined))
      assert.ok(child.cgroup, 'a cgroup for the pids limit')
      child.freeze()
      assert.equal(child.cgroup.frozen(), true)
      child.kill('SIGTERM')
      const r = await Promise.race([child.exited, sleep(10_000).then(() => undefined)])
      assert.ok(r, 'the frozen sandbox ended')
      assert.equal(r.signal, 'SIGKILL')
      assert.deepEqual(pidsOf(['sleep', '301.5']), [])
    },
  )

  // A frozen sandbox is killed for a signal that would end a program, not for one that ends
  // nothing: a terminal's resize while `cordon freeze` held a run's sandbox ended it (137).
  test(
    'SIGWINCH, SIGTSTP, SIGCONT and signal 0 to a frozen sandbox wait for the thaw, and the command runs on',
    { skip: !isRoot && 'cgroups need root here' },
    async () => {
      const argv = ['sleep', '1.75']
      const child = spawn({ extends: ['default'], limits: { pids: 50 } }, argv[0]!, argv.slice(1), {
        stdio: 'ignore',
        context: { cwd: projectDir() },
      })
      try {
        await until('the sandbox', () => (pidsOf(argv).length ? true : undefined))
        child.freeze()
        assert.equal(child.kill('SIGWINCH'), true)
        assert.equal(child.kill(0), true)
        assert.equal(child.kill('SIGTSTP'), true) // the launcher stops the command (job control)
        assert.equal(child.kill('SIGCONT'), true) // and continues it at the thaw
        await sleep(300)
        assert.equal(child.cgroup?.frozen(), true, 'still frozen')
        assert.equal(pidsOf(argv).length, 1, 'still there')
        child.thaw()
        const r = await child.exited
        assert.equal(r.reason, 'exited')
        assert.equal(r.code, 0)
      } finally {
        killAll(argv)
      }
    },
  )

  test(
    "a terminal's resize while cordon freeze holds a run's sandbox leaves it to the thaw",
    { skip: !isRoot && 'cgroups need root here' },
    async () => {
      const argv = ['sleep', '2.25']
      const supervisor = spawnChild(process.execPath, [CLI, 'run', '--pids', '50', '--', ...argv], {
        cwd: projectDir(),
        stdio: 'ignore',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      })
      const exited = new Promise<NodeJS.Signals | number | null>((r) =>
        supervisor.once('exit', (c, s) => r(s ?? c)),
      )
      try {
        await until('the sandbox', () => (pidsOf(argv).length ? true : undefined))
        const id = await until('its record', () => rowOf(cordon(['ps', '--json']).stdout, argv))
        assert.equal(cordon(['freeze', id]).status, 0)
        supervisor.kill('SIGWINCH')
        await sleep(300)
        assert.equal(pidsOf(argv).length, 1, 'still there')
        assert.equal(cordon(['thaw', id]).status, 0)
        assert.equal(await exited, 0)
      } finally {
        supervisor.kill('SIGKILL')
        killAll(argv)
      }
    },
  )

  test(
    'a supervisor killed while its sandbox is frozen: its launcher kills and thaws it',
    { skip: !isRoot && 'cgroups need root here' },
    async () => {
      const argv = ['sleep', '302.5']
      const supervisor = spawnChild(process.execPath, [CLI, 'run', '--pids', '50', '--', ...argv], {
        cwd: projectDir(),
        stdio: 'ignore',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      })
      try {
        const [pid] = await until('the sandbox', () => {
          const p = pidsOf(argv)
          return p.length ? p : undefined
        })
        const id = await until('its record', () => rowOf(cordon(['ps', '--json']).stdout, argv))
        assert.equal(cordon(['freeze', id]).status, 0)
        supervisor.kill('SIGKILL')
        await new Promise((r) => supervisor.once('exit', r))
        // The launcher, never frozen itself, sees its parent's end and kills and thaws the
        // sandbox (cgroup v1 would hold a plain PDEATHSIG SIGKILL in the frozen process). With
        // the launcher killed too, the next run sweeps: test/monitor/frozen-safety.test.ts.
        await until('the orphan to be gone', () => (existsSync(`/proc/${pid}`) ? undefined : true), 1000)
      } finally {
        supervisor.kill('SIGKILL')
        killAll(argv)
      }
    },
  )

  test(
    'as a plain user (SIGSTOP, no cgroup): SIGTERM to the supervisor of a stopped sandbox kills it',
    { skip: !isRoot && 'needs root to create the test user' },
    async (t) => {
      const user = ensureTestUser()
      const cwd = `/tmp/cordon-freeze-${process.pid}`
      mkdirSync(cwd, { recursive: true })
      t.after(() => rmSync(cwd, { recursive: true, force: true }))
      chmodSync(cwd, 0o777)
      const argv = ['sleep', '303.5']
      const supervisor = spawnChild(process.execPath, [CLI, 'run', '--', ...argv], {
        cwd,
        uid: user.uid,
        gid: user.gid,
        stdio: 'ignore',
        env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/nonexistent', NODE_EXTRA_CA_CERTS: '' },
      })
      const exited = new Promise<NodeJS.Signals | number | null>((r) =>
        supervisor.once('exit', (c, s) => r(s ?? c)),
      )
      try {
        const [pid] = await until('the sandbox', () => {
          const p = pidsOf(argv)
          return p.length ? p : undefined
        })
        const id = await until('its record', () => rowOf(cordonAs(user, ['ps', '--json'], cwd).stdout, argv))
        const frozen = cordonAs(user, ['freeze', id], cwd)
        assert.equal(frozen.status, 0, frozen.stderr)
        await until('the stop', () =>
          readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') T ') ? true : undefined,
        )
        supervisor.kill('SIGTERM')
        const how = await Promise.race([exited, sleep(10_000).then(() => 'still running')])
        assert.notEqual(how, 'still running')
        await until('the sandbox to be gone', () => (existsSync(`/proc/${pid}`) ? undefined : true), 5000)
      } finally {
        supervisor.kill('SIGKILL')
        killAll(argv)
      }
    },
  )
})
