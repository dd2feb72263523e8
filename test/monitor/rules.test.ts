// The rules language and engine, without a kernel: parsing and its errors, lists and macros,
// overrides, rates, baselines, cooldowns and hot reload; alert sinks against local servers.
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import { evaluate, parseExpr } from '../../src/monitor/expr.js'
import { type Alert, Monitor, type Target } from '../../src/monitor/engine.js'
import {
  DEFAULT_RULES_FILE,
  FIELDS,
  loadRules,
  parseRules,
  watchedSyscalls,
} from '../../src/monitor/rules.js'
import { syslogLine, WebhookSink } from '../../src/monitor/sinks.js'
import type { SandboxEvent } from '../../src/run/events.js'

const defs = { macros: new Map(), lists: new Map([['shells', ['sh', 'bash']]]), fields: FIELDS }
const fields = (o: Record<string, string | number | boolean>) => (n: string) => o[n]

const clone = (pid = 7): SandboxEvent => ({
  event: 'syscall',
  syscall: 'clone',
  arch: 'x86_64',
  nr: 56,
  pid,
  args: [0x11n, 0n, 0n, 0n, 0n, 0n],
})

function target(log: string[]): Target {
  return {
    id: 's1',
    command: ['x'],
    startedAt: 0,
    limits: { memory: 1000 },
    freeze: () => (log.push('freeze'), 'test'),
    kill: () => log.push('kill'),
  }
}

describe('rule conditions', () => {
  test('operators, lists, precedence and negation', () => {
    const e = parseExpr(
      'event = syscall and (basename in (shells, zsh) or path startswith /tmp/) and not denied',
      defs,
    )
    assert.equal(
      evaluate(e, fields({ event: 'syscall', basename: 'bash', path: '/bin/bash', denied: false })),
      true,
    )
    assert.equal(
      evaluate(e, fields({ event: 'syscall', basename: 'zsh', path: '/bin/zsh', denied: false })),
      true,
    )
    assert.equal(
      evaluate(e, fields({ event: 'syscall', basename: 'x', path: '/tmp/x', denied: false })),
      true,
    )
    assert.equal(
      evaluate(e, fields({ event: 'syscall', basename: 'x', path: '/tmp/x', denied: true })),
      false,
    )
    assert.equal(evaluate(parseExpr('memory_pct >= 90', defs), fields({ memory_pct: 95 })), true)
    assert.equal(evaluate(parseExpr('memory_pct >= 90', defs), fields({ memory_pct: 89.5 })), false)
    assert.equal(
      evaluate(parseExpr("path glob '/home/*/.ssh/*'", defs), fields({ path: '/home/a/.ssh/id' })),
      true,
    )
    assert.equal(
      evaluate(parseExpr('arg0 = 0x11', defs), (n) => (n === 'arg0' ? 0x11n : undefined)),
      true,
    )
  })

  test('errors point at the column and name the fix', () => {
    assert.throws(
      () => parseExpr('event = syscall and sycall = clone', defs),
      (e: Error & { column: number }) => {
        assert.match(e.message, /unknown field `sycall`/)
        assert.equal(e.column, 20)
        return true
      },
    )
    assert.throws(
      () => parseExpr('event = syscall syscall = x', defs),
      /unexpected `syscall` \(missing and\/or\?\)/,
    )
    assert.throws(() => parseExpr('syscall = (a, b)', defs), /use `in/)
    assert.throws(() => parseExpr('path = "open', defs), /unterminated string/)
  })

  test('rules files: unknown keys, syscalls and actions are errors with a hint', () => {
    assert.throws(
      () => parseRules('rules:\n  - rule: a\n    when: event = oom\n    thne: alert\n'),
      /rules\[0\]\.thne: unknown key; did you mean `then`\?/,
    )
    assert.throws(
      () => parseRules('rules:\n  - rule: a\n    when: syscall = clon\n'),
      /unknown syscall `clon`; did you mean `clone`\?/,
    )
    assert.throws(
      () => parseRules('rules:\n  - rule: a\n    when: event = oom\n    then: [stop]\n'),
      /unknown action `stop`/,
    )
    assert.throws(
      () => parseRules('rules:\n  - rule: a\n    when: event = oom\n    rate: more than 5\n'),
      /count > N within DURATION/,
    )
    assert.throws(
      () => parseRules('rules:\n  - rule: a\n    when: event = = oom\n'),
      /when: expected a value[\s\S]*\^/,
    )
  })

  test('the default rules load, and a later file overrides or disables them by name', () => {
    const base = loadRules([DEFAULT_RULES_FILE])
    assert.ok(base.rules.some((r) => r.name === 'fork-storm'))
    assert.deepEqual(watchedSyscalls(base).slice(0, 4), ['add_key', 'bpf', 'clone', 'clone3'])
    assert.ok(watchedSyscalls(base).includes('execve') && watchedSyscalls(base).includes('ptrace'))
  })
})

describe('rule engine', () => {
  test('a rate fires once past the threshold within the window, then counts afresh', () => {
    let now = 0
    const log: string[] = []
    const m = new Monitor(
      parseRules(
        'rules:\n  - rule: storm\n    when: event = syscall and syscall = clone\n    rate: count > 3 within 1s\n    then: [freeze, alert]\n',
      ),
      { now: () => now },
    )
    const alerts: Alert[] = []
    m.on('alert', (a) => alerts.push(a))
    m.attach(target(log))
    for (let i = 0; i < 3; i++) m.handle('s1', clone())
    now = 1500 // the first three fall out of the window
    for (let i = 0; i < 3; i++) m.handle('s1', clone())
    assert.deepEqual(log, [])
    m.handle('s1', clone())
    assert.deepEqual(log, ['freeze'])
    assert.equal(alerts[0]?.count, 4)
    for (let i = 0; i < 3; i++) m.handle('s1', clone())
    assert.equal(alerts.length, 1)
  })

  test('a baseline learns the normal rate, then fires on a multiple of it', () => {
    let now = 0
    const log: string[] = []
    const m = new Monitor(
      parseRules(
        'rules:\n  - rule: b\n    when: event = syscall\n    baseline: {learn: 3s, window: 1s, factor: 3, min: 2}\n    then: kill\n',
      ),
      { now: () => now },
    )
    m.attach(target(log))
    for (; now < 3000; now += 250) m.handle('s1', clone()) // 4 per second while learning
    for (let i = 0; i < 12; i++) m.handle('s1', clone()) // 12 in one window: not above 3 × 4
    assert.deepEqual(log, [])
    m.handle('s1', clone())
    assert.deepEqual(log, ['kill'])
  })

  test('cooldown, and hot reload keeps windows of unchanged rules', () => {
    let now = 0
    const log: string[] = []
    const text = (n: number) =>
      `rules:\n  - rule: r\n    when: event = syscall\n    rate: count > ${n} within 10s\n    then: kill\n  - rule: c\n    when: event = oom\n    then: freeze\n    cooldown: 5s\n`
    const m = new Monitor(parseRules(text(2)), { now: () => now })
    m.attach(target(log))
    m.handle('s1', clone())
    m.handle('s1', clone())
    m.setRules(parseRules(text(2))) // same rule: the two matches stay counted
    m.handle('s1', clone())
    assert.deepEqual(log, ['kill'])
    m.handle('s1', { event: 'oom', kills: 1 })
    now = 1000
    m.handle('s1', { event: 'oom', kills: 2 })
    now = 6000
    m.handle('s1', { event: 'oom', kills: 3 })
    assert.deepEqual(log, ['kill', 'freeze', 'freeze'])
  })
})

describe('alert sinks', () => {
  const alert: Alert = {
    time: new Date(0).toISOString(),
    rule: 'r',
    priority: 'critical',
    sandbox: 's1',
    command: ['x'],
    output: 'boom',
    actions: ['alert'],
    event: { event: 'oom' },
  }

  test('the webhook retries with backoff until the receiver takes it, without blocking send()', async () => {
    let calls = 0
    const bodies: string[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (b: Buffer) => (body += b))
      req.on('end', () => {
        calls++
        if (calls < 3) return res.writeHead(503).end()
        bodies.push(body)
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const sink = new WebhookSink(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      backoffMs: 10,
    })
    const t0 = performance.now()
    sink.send(alert)
    assert.ok(performance.now() - t0 < 5, 'send() only queues')
    await sink.close()
    server.close()
    assert.equal(calls, 3)
    assert.equal(JSON.parse(bodies[0]!).output, 'boom')
    assert.deepEqual(sink.stats, { sent: 1, failed: 0, dropped: 0 })
  })

  test('a dead webhook is given up on and counted', async () => {
    const sink = new WebhookSink('http://127.0.0.1:1/', { attempts: 2, backoffMs: 5 })
    sink.send(alert)
    await sink.close()
    assert.deepEqual(sink.stats, { sent: 0, failed: 1, dropped: 0 })
  })

  test('syslog over UDP is RFC 5424 with the severity of the priority', async () => {
    const server = createSocket('udp4')
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r))
    const got = new Promise<string>((r) => server.once('message', (m) => r(m.toString())))
    const { parseSink } = await import('../../src/monitor/sinks.js')
    const sink = parseSink(`syslog:127.0.0.1:${server.address().port}`)
    sink.send(alert)
    const line = await got
    assert.equal(line, syslogLine(alert, line.split(' ')[2]))
    assert.match(
      line,
      /^<82>1 1970-01-01T00:00:00.000Z \S+ cordon \d+ alert \[cordon@32473 rule="r" sandbox="s1" priority="critical"\] boom$/,
    )
    await sink.close()
    server.close()
  })
})
