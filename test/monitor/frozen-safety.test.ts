// A real fork storm is frozen and alerted, as root (cgroup freezer) and as a plain user
// (SIGSTOP), and freezing is safe: a supervisor stopped by `timeout` ends its frozen sandbox,
// and one killed with SIGKILL leaves nothing frozen behind (its launcher kills and thaws the
// sandbox; when the launcher is killed too, the next cordon run sweeps the group). On main the
// storm's forks failed with EINTR before the rule could count them, and a frozen sandbox
// outlived a killed supervisor in D state for good.
//
// The threshold is lowered to 40 spawns a second: the rule and its actions are under test, and
// a machine shared by parallel test runs may fork slower than the default's 250 per second.
import assert from 'node:assert/strict'
import { spawn as spawnChild } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLI, cordon, ensureTestUser, isRoot, projectDir } from '../helpers.js'
import { type CliRun, pidsOf, startCli as start, stormDir, until } from './helpers.js'

const RULES = `rules:
  - rule: fork-storm
    when: spawn
    rate: count > 40 within 1s
    then: [freeze, alert]
    priority: critical
    output: 'fork storm: {count} process creations within {window}; sandbox frozen'
`

const state = (pid: number) => {
  try {
    return /\) (\S) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1]
  } catch {
    return undefined
  }
}

/** Asserts that `alive()` turns false within `ms` of `from` (issue 19's acceptance). Judged by
 * the last sample that still saw it alive, taken when that sample began: a loaded machine that
 * delays the poller (a 20 ms sleep that lasts 300, a /proc scan that takes 100) then delays only
 * the observation, not the verdict. Gives up after 20 s. */
async function goneWithin(what: string, alive: () => boolean, ms: number, from: number): Promise<void> {
  let lastAlive = from
  for (;;) {
    const at = Date.now()
    if (!alive()) break
    lastAlive = at
    if (at - from > 20_000) break
    await sleep(10)
  }
  assert.ok(lastAlive - from < ms, `${what}: still there ${lastAlive - from} ms later, allowed ${ms}`)
}

describe(
  'fork storms and frozen sandboxes',
  { skip: !isRoot && 'needs root (cgroups, the test user)' },
  () => {
    const { dir, storm } = stormDir('storms', 0o755)
    const rules = join(dir, 'storm-rules.yaml')
    writeFileSync(rules, RULES)
    chmodSync(rules, 0o644)
    const started: CliRun[] = []
    after(() => {
      for (const s of started) s.child.kill('SIGKILL')
      for (const pid of pidsOf([storm, 'bomb', '4'])) process.kill(pid, 'SIGKILL')
      rmSync(projectDir(), { recursive: true, force: true })
    })

    test('as root: the storm is frozen by the cgroup freezer and alerted', async () => {
      const run = start(
        ['run', '--pids', '200', '--monitor', '--rules', rules, '--', storm, 'bomb', '4'],
        dir,
      )
      started.push(run)
      await until('the alert', () => (/\[critical\] fork-storm/.test(run.stderr()) ? true : undefined))
      assert.match(run.stderr(), /freeze sandbox \w+ \(cgroup freezer\)/)
      const pids = pidsOf([storm, 'bomb', '4'])
      assert.ok(pids.length >= 4, `${pids.length} forkers`)
      const id = /sandbox (\w+)/.exec(run.stderr())![1]!
      const ps = JSON.parse(cordon(['ps', '--json']).stdout) as {
        sandboxes: { id: string; usage?: { frozen: boolean } }[]
      }
      assert.equal(ps.sandboxes.find((s) => s.id === id)?.usage?.frozen, true)
      run.child.kill('SIGTERM')
      await run.exited
      await until(
        'the storm to be gone',
        () => (pidsOf([storm, 'bomb', '4']).length ? undefined : true),
        2000,
      )
    })

    test('as a plain user: the storm is stopped (SIGSTOP) and alerted', async () => {
      const user = ensureTestUser()
      const run = start(['run', '--monitor', '--rules', rules, '--', storm, 'bomb', '4'], dir, user)
      started.push(run)
      await until('the alert', () => (/\[critical\] fork-storm/.test(run.stderr()) ? true : undefined))
      assert.match(run.stderr(), /freeze sandbox \w+ \(SIGSTOP/)
      const pids = pidsOf([storm, 'bomb', '4'])
      assert.ok(pids.length >= 4, run.stderr())
      await until(
        'every forker stopped',
        () => (pids.every((p) => state(p) === 'T') ? true : undefined),
        2000,
      )
      run.child.kill('SIGTERM')
      await run.exited
      await until(
        'the storm to be gone',
        () => (pidsOf([storm, 'bomb', '4']).length ? undefined : true),
        2000,
      )
    })

    test('timeout 5 cordon run --monitor -- <storm> ends within 6 s', async () => {
      const t0 = Date.now()
      const run = spawnChild(
        'timeout',
        ['5', process.execPath, CLI, 'run', '--monitor', '--rules', rules, '--', storm, 'bomb', '4'],
        { cwd: dir, stdio: 'ignore', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
      )
      const end = await new Promise<number>((r) => run.once('exit', () => r(Date.now())))
      assert.ok(end - t0 < 6000, `ended after ${end - t0} ms`)
      await goneWithin('the storm', () => pidsOf([storm, 'bomb', '4']).length > 0, 1000, end)
    })

    test('a frozen sandbox whose supervisor is SIGKILLed is gone within a second', async () => {
      const run = start(
        ['run', '--pids', '200', '--monitor', '--rules', rules, '--', storm, 'bomb', '4'],
        dir,
      )
      started.push(run)
      await until('the freeze', () => (/\[critical\] fork-storm/.test(run.stderr()) ? true : undefined))
      assert.ok(pidsOf([storm, 'bomb', '4']).length >= 4)
      run.child.kill('SIGKILL')
      const killed = (await run.exited).at
      await goneWithin('the storm', () => pidsOf([storm, 'bomb', '4']).length > 0, 1000, killed)
    })

    test('supervisor and launcher SIGKILLed: the next cordon run sweeps the frozen group within a second', async () => {
      const run = start(
        ['run', '--pids', '200', '--monitor', '--rules', rules, '--', storm, 'bomb', '4'],
        dir,
      )
      started.push(run)
      await until('the freeze', () => (/\[critical\] fork-storm/.test(run.stderr()) ? true : undefined))
      const launcher = readdirSync('/proc')
        .filter((n) => /^\d+$/.test(n))
        .map(Number)
        .find((p) => {
          try {
            return (
              readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(run.child.pid)
            )
          } catch {
            return false
          }
        })
      assert.ok(launcher, 'the launcher')
      // Neither may clean up: the supervisor is stopped first, so it cannot react to the
      // launcher's end.
      run.child.kill('SIGSTOP')
      process.kill(launcher, 'SIGKILL')
      run.child.kill('SIGKILL')
      await run.exited
      // Any root cordon run sweeps orphans, so on a machine shared with other runs this is
      // checked at once rather than after a pause.
      const left = pidsOf([storm, 'bomb', '4'])
      assert.ok(
        left.length > 0 && left.every((p) => existsSync(`/proc/${p}`)),
        'frozen, nobody left to thaw it',
      )
      const next = cordon(['run', '--pids', '50', '--', 'true'], { cwd: dir })
      assert.equal(next.status, 0, next.stderr)
      await goneWithin('the orphans', () => pidsOf([storm, 'bomb', '4']).length > 0, 1000, Date.now())
    })
  },
)
