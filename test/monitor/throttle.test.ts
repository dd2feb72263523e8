// Rate bounds (issue 17, point 7): a rule that matches on every event of a storm alerts at most
// its throttle's worth, counts what it held back and says so, and never holds back a freeze or
// a kill. On the real kernel: a refused-unshare storm under --monitor.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { type Alert, Monitor, type Suppressed, type Target } from '../../src/monitor/engine.js'
import { DEFAULT_THROTTLE, parseRules } from '../../src/monitor/rules.js'
import { alertText } from '../../src/monitor/sinks.js'
import type { SandboxEvent } from '../../src/run/events.js'
import { cordon, projectDir } from '../helpers.js'
import { stormBinary } from './helpers.js'

const refused = (pid = 7): SandboxEvent => ({
  event: 'syscall',
  syscall: 'unshare',
  arch: 'x86_64',
  nr: 272,
  pid,
  args: [0x10000000n, 0n, 0n, 0n, 0n, 0n],
  errno: 1,
})

function target(log: string[]): Target {
  return {
    id: 's1',
    command: ['x'],
    startedAt: 0,
    limits: {},
    freeze: () => {
      log.push('freeze')
      return 'test'
    },
    kill: () => log.push('kill'),
  }
}

const RULE = 'rules:\n  - rule: escape\n    when: event = syscall and denied\n'

function storm(rules: string, events: number, perMs: number) {
  let now = 0
  const log: string[] = []
  const m = new Monitor(parseRules(rules), { now: () => now })
  const alerts: Alert[] = []
  const held: Suppressed[] = []
  m.on('alert', (a) => alerts.push(a))
  m.on('suppressed', (s) => held.push(s))
  m.attach(target(log))
  for (let i = 0; i < events; i++) {
    now = Math.floor(i * perMs)
    m.handle('s1', refused())
  }
  const during = alerts.length
  m.detach('s1')
  return { alerts, during, held, log }
}

describe('rule throttle', () => {
  test('a storm of 40,000 matches in 4 s gives the burst plus the refill, and counts the rest', () => {
    const { alerts, during, held } = storm(`${RULE}    then: alert\n`, 40_000, 0.1)
    const { count, perMs } = DEFAULT_THROTTLE
    const bound = count + Math.ceil((4000 * count) / perMs)
    assert.ok(during <= bound, `${during} alerts, bound ${bound}`)
    assert.ok(during >= count, 'the burst goes out')
    assert.equal(during + held.length, 40_000, 'every match is an alert or counted')
    const summary = alerts.at(-1)!
    assert.equal(alerts.length, during + 1, 'detach adds one summary alert')
    assert.deepEqual(summary.event, { event: 'suppressed', count: summary.suppressed })
    const carried = alerts.slice(0, -1).reduce((n, a) => n + (a.suppressed ?? 0), 0)
    assert.equal(carried + summary.suppressed!, held.length, 'alerts carry the count held back before them')
    assert.match(summary.output, /more escape alerts were suppressed by the rule's throttle \(20 per 10s\)/)
    // Its text says the count once (helper-155: "… were suppressed … (+10 suppressed)").
    assert.doesNotMatch(alertText(summary), /\(\+\d+ suppressed\)/)
  })

  test('`throttle: N per DURATION` retunes it; freeze and kill are never held back', () => {
    const { during, log } = storm(`${RULE}    then: [freeze, alert]\n    throttle: 2 per 1s\n`, 100, 1)
    assert.equal(during, 2)
    assert.equal(log.filter((l) => l === 'freeze').length, 100)
  })

  test('a bad throttle is an error naming the rule and the form', () => {
    assert.throws(
      () => parseRules(`${RULE}    throttle: lots\n`),
      /rule escape\.throttle: expected `N per DURATION` with N from 1 to 100000 \(e\.g\. `20 per 10s`\), got `lots`/,
    )
    assert.throws(() => parseRules(`${RULE}    throttle: 0 per 1s\n`), /N from 1/)
  })
})

describe('rule throttle on the real kernel', () => {
  test('a refused-unshare storm yields at most the bound of escape-attempt alerts plus a summary', () => {
    const dir = projectDir()
    const events = join(dir, 'storm-events.jsonl')
    const started = Date.now()
    const r = cordon(
      [
        'run',
        '--profile',
        'minimal',
        '--ro',
        dir,
        '--monitor',
        '--json',
        '--events',
        events,
        '--',
        stormBinary(),
        'escape',
        '20000',
      ],
      { timeout: 60_000 },
    )
    const seconds = (Date.now() - started) / 1000
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^done 20000/)
    const alerts = readFileSync(events, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; alert?: Alert })
      .flatMap((l) => (l.event === 'alert' && l.alert?.rule === 'escape-attempt' ? [l.alert] : []))
    const { count, perMs } = DEFAULT_THROTTLE
    const bound = count + Math.ceil((seconds * 1000 * count) / perMs) + 1 // + the summary
    assert.ok(alerts.length <= bound, `${alerts.length} alerts in ${seconds} s, bound ${bound}`)
    assert.equal(alerts.at(-1)!.event.event, 'suppressed', 'the run ends with the summary')
    const held = alerts.reduce((n, a) => n + (a.suppressed ?? 0), 0)
    assert.ok(held > 1000, `${held} alerts counted as suppressed`)
  })
})
