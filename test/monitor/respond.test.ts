// The monitor acting on a real sandbox through the CLI: a fork storm while tasks pile up is
// frozen by the default rules (how soon after the threshold is bench/timings.mjs's to measure) and alerted to a webhook, `cordon thaw` resumes it, and rules edited
// during a run take effect without a restart.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { CLI, cordon, isRoot, projectDir } from '../helpers.js'
import { stormBinary } from './helpers.js'

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = probe()
    if (v !== undefined && v !== false) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

function cordonAsync(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: projectDir(),
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => (out += b))
  child.stderr.on('data', (b: Buffer) => (err += b))
  return { child, stdout: () => out, stderr: () => err }
}

describe('monitor responses', { skip: isRoot ? false : 'the cgroup freezer needs root here' }, () => {
  const children: ChildProcess[] = []
  after(() => {
    for (const c of children) c.kill('SIGKILL')
  })

  test('a fork storm is frozen, alerted to a webhook, and thawed by cordon thaw', async (t) => {
    const received: Record<string, unknown>[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (b: Buffer) => (body += b))
      req.on('end', () => {
        received.push(JSON.parse(body) as Record<string, unknown>)
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    // Closed however the test ends: an open server would keep the test process alive for good.
    t.after(() => server.closeAllConnections())
    t.after(() => server.close())
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    const storm = stormBinary()
    // The default rule counts spawns only while the sandbox holds a quarter of its task limit:
    // 110 sleepers of 400, made two seconds before the forks (out of the rule's window).
    const run = cordonAsync([
      'run',
      '--profile',
      'minimal',
      '--ro',
      projectDir(),
      '--pids',
      '400',
      '--monitor',
      '--alert',
      `webhook:${url}`,
      '--',
      storm,
      'hold',
      '110',
    ])
    children.push(run.child)
    const alert = await waitFor('the webhook alert', () => received[0])
    assert.equal(alert.rule, 'fork-storm')
    assert.equal(alert.priority, 'critical')
    assert.deepEqual(alert.actions, ['freeze', 'alert'])
    const id = String(alert.sandbox)

    // Crossing the threshold (count > 250 within 1 s) is the first fork that has 250 others in
    // the second before it. Fork n starts right after the storm prints line n-2, so on a fast
    // machine that is the fork after line 249; on a loaded one, whenever the rate first got there.
    const lines = () => run.stdout().trim().split('\n')
    const at = lines().map((l) => Number(l.split(' ')[1]) * 1000)
    const first = at.findIndex((t, i) => i >= 250 && t - at[i - 250]! <= 1000)
    assert.ok(first >= 0, `the storm never reached 250 forks in a second: ${at.length} lines`)
    const crossing = at[first]!
    const frozenBy = Date.parse(String(alert.time)) // the alert is built after the freeze returned
    assert.ok(frozenBy >= crossing, 'frozen only once the threshold was crossed')
    t.diagnostic(`frozen ${(frozenBy - crossing).toFixed(1)} ms after the threshold was crossed`)

    const ps = JSON.parse(cordon(['ps', '--json']).stdout) as {
      sandboxes: { id: string; usage?: { frozen: boolean } }[]
    }
    assert.equal(ps.sandboxes.find((s) => s.id === id)?.usage?.frozen, true)
    const before = lines().length
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(lines().length, before, 'a frozen sandbox makes no progress')

    assert.equal(cordon(['thaw', id]).status, 0)
    await waitFor('progress after thaw', () => lines().length > before + 10)
    assert.equal(cordon(['kill', id]).status, 0)
    await new Promise((r) => run.child.once('exit', r))
  })

  test('rules edited during a run apply to it without a restart', async () => {
    const rules = join(projectDir(), 'reload-rules.yaml')
    const alerts = join(projectDir(), 'reload-alerts.jsonl')
    const version = (v: string) =>
      writeFileSync(
        rules,
        `rules:\n  - rule: saw-true\n    when: exec and basename = true\n    then: alert\n    output: '${v} {path}'\n`,
      )
    version('v1')
    const run = cordonAsync([
      'run',
      '--rules',
      rules,
      '--alert',
      `file:${alerts}`,
      '--',
      'sh',
      '-c',
      'while :; do /bin/true; sleep 0.05; done',
    ])
    children.push(run.child)
    const read = () =>
      existsSync(alerts)
        ? readFileSync(alerts, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { output: string; sandbox: string })
        : []
    const first = await waitFor('a v1 alert', () => read().find((a) => a.output.startsWith('v1 ')))
    version('v2')
    const second = await waitFor('a v2 alert', () => read().find((a) => a.output.startsWith('v2 ')))
    assert.equal(second.sandbox, first.sandbox, 'the same sandbox, not a restarted one')
    assert.match(run.stderr(), /rules reloaded: \d+ rules/)
    assert.equal(run.child.exitCode, null)
    run.child.kill('SIGTERM')
    await new Promise((r) => run.child.once('exit', r))
  })

  test('a baseline from a learn run kills a sandbox that forks far above what learning saw', async () => {
    const dir = projectDir()
    const policy = join(dir, 'spawner.yaml')
    // Learning: a shell starting five commands, a few process creations per second at most.
    const learned = cordon(
      ['learn', '-o', policy, '--', 'sh', '-c', 'for i in 1 2 3 4 5; do /bin/true; done'],
      {
        cwd: dir,
      },
    )
    assert.equal(learned.status, 0, learned.stderr)
    const observation = JSON.parse(readFileSync(join(dir, 'spawner.learn.json'), 'utf8')) as {
      spawns?: { count: number; peakPerSecond?: number }
    }
    // Counted, not stopped: five commands, so at least five process creations.
    assert.ok(observation.spawns && observation.spawns.count >= 5, JSON.stringify(observation.spawns))
    assert.ok(observation.spawns.peakPerSecond! >= 1)
    const rules = join(dir, 'baseline-rules.yaml')
    writeFileSync(
      rules,
      'rules:\n  - rule: spawn-above-learned\n    when: spawn\n' +
        '    baseline: {from: spawner.learn.json, factor: 4, min: 20}\n    then: [kill, alert]\n',
    )
    const run = cordonAsync([
      'run',
      '--profile',
      'minimal',
      '--ro',
      dir,
      '--rules',
      rules,
      '--alert',
      'json',
      '--events',
      join(dir, 'baseline-events.jsonl'),
      '--',
      stormBinary(),
      'fork',
    ])
    children.push(run.child)
    const [code, signal] = await new Promise<[number | null, string | null]>((r) =>
      run.child.once('exit', (c, s) => r([c, s])),
    )
    const alerts = readFileSync(join(dir, 'baseline-events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"event":"alert"'))
      .map((l) => (JSON.parse(l) as { alert: { rule: string; count: number } }).alert)
    const alert = alerts.find((a) => a.rule === 'spawn-above-learned')
    assert.ok(alert, run.stdout().slice(-2000) + run.stderr())
    assert.ok(alert.count > 20, String(alert.count))
    assert.equal(code, 137, `${code} ${signal} ${run.stderr()}`)
  })
})
