// tier: unit
// The rules language and engine, without a kernel: parsing and its errors, lists and macros,
// overrides, rates, baselines, cooldowns and hot reload; alert sinks against local servers.
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { describe, test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
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
import { emptyObservation, Recorder } from '../../src/learn/observation.js'

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

/** A loopback port nothing listens on: one the kernel gave a listener just closed (ports 1 and 9
 * are ones fetch() refuses to send to at all). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  await new Promise((r) => server.close(r))
  return port
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
    // Process creation is counted (spawn events); clone is watched for its refusals only (a
    // NEVER_NOTIFIED call that goes on is never stopped).
    // The calls of rules that require `denied` (escape-attempt) are watched when refused alone
    // (`!NAME`): an allowed ptrace (a debugger under a policy that allows it) is never stopped.
    assert.deepEqual(watchedSyscalls(base).slice(0, 4), ['!add_key', '!bpf', '!clone', '!delete_module'])
    assert.ok(watchedSyscalls(base).includes('execve') && watchedSyscalls(base).includes('!ptrace'))
    // A syscall another rule tests whatever its outcome stays watched whole.
    const both = parseRules(
      'rules:\n  - rule: a\n    when: event = syscall and denied and syscall = ptrace\n    then: alert\n' +
        '  - rule: b\n    when: event = syscall and syscall = ptrace\n    then: alert\n',
    )
    assert.deepEqual(watchedSyscalls(both), ['ptrace'])
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

  // helper-152: `{program}` of an openat was the opened file's name.
  test('{program} is who made the call; only an exec names the program it runs', () => {
    const m = new Monitor(
      parseRules(
        "rules:\n  - rule: r\n    when: event = syscall\n    then: alert\n    output: '{program} {syscall} {path}'\n",
      ),
    )
    const outputs: string[] = []
    m.on('alert', (a) => outputs.push(a.output))
    m.attach(target([]))
    m.handle('s1', { event: 'process', action: 'exec', pid: 7, exe: '/usr/bin/cat', source: 'connector' })
    const call = (syscall: string, path: string, extra: Record<string, unknown> = {}): SandboxEvent => ({
      event: 'syscall',
      syscall,
      arch: 'x86_64',
      nr: 0,
      pid: 7,
      args: [],
      path,
      ...extra,
    })
    m.handle('s1', call('openat', '/etc/shadow'))
    m.handle('s1', call('execve', '/bin/sh', { exe: '/usr/bin/dash' }))
    m.handle('s1', call('execve', 'tool'))
    assert.deepEqual(outputs, ['cat openat /etc/shadow', 'dash execve /bin/sh', 'tool execve tool'])
  })

  test('the default fork-storm counts spawns only while tasks pile up', () => {
    let now = 0
    const spawn = (count: number, pids?: number): SandboxEvent => ({
      event: 'spawn',
      count,
      ...(pids === undefined ? {} : { pids }),
      source: 'pid-namespace',
    })
    const run = (limits: Target['limits'], events: SandboxEvent[]) => {
      const log: string[] = []
      const m = new Monitor(loadRules([DEFAULT_RULES_FILE]), { now: () => now })
      m.attach({ ...target(log), limits })
      for (const ev of events) {
        now += 50
        m.handle('s1', ev)
      }
      return log
    }
    // A shell loop: 2000 spawns a second, three tasks at a time.
    const loop = Array.from({ length: 20 }, () => spawn(100, 3))
    assert.deepEqual(run({ pids: 4096 }, loop), [])
    // A bomb: the same rate while the tasks reach a quarter of the limit.
    assert.deepEqual(run({ pids: 4096 }, [spawn(900, 901), spawn(200, 1101), spawn(100, 1201)]), ['freeze'])
    // 300 threads at once under the default limit are no storm.
    assert.deepEqual(run({ pids: 4096 }, [spawn(300, 302)]), [])
    // Without a limit, 1000 tasks stand for the quarter.
    assert.deepEqual(run({}, [spawn(900, 901), spawn(300, 1201)]), ['freeze'])
    assert.deepEqual(run({}, loop), [])
    // Where the tasks could not be counted, the rate alone decides, as before.
    assert.deepEqual(run({ pids: 4096 }, [spawn(300)]), ['freeze'])
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

  test('a baseline from a learn run guards from the first call, at factor × the learned peak', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-baseline-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const learned = {
      version: 1,
      arch: 'x86_64',
      runs: [{ command: ['make'], cwd: '/', at: '', durationMs: 10_000, exit: 0 }],
      syscalls: { clone: { count: 40, peakPerSecond: 3 }, clone3: { count: 20, peakPerSecond: 2 } },
      files: {},
      net: { bind: [], connect: [], send: [] },
      peaks: {},
    }
    writeFileSync(join(dir, 'make.learn.json'), JSON.stringify(learned))
    const rules = join(dir, 'rules.yaml')
    const rule = (baseline: string, when = 'syscall in (clone, clone3)') =>
      `rules:\n  - rule: b\n    when: ${when}\n    baseline: ${baseline}\n    then: kill\n`
    writeFileSync(rules, rule('{from: make.learn.json, factor: 2, min: 4}'))
    const set = loadRules([rules])
    assert.equal(set.rules[0]!.baseline!.learned, 5) // 3 + 2 per second
    const now = 0
    const log: string[] = []
    const m = new Monitor(set, { now: () => now })
    m.attach(target(log))
    for (let i = 0; i < 10; i++) m.handle('s1', clone()) // 10 in the first second: 2 × 5, not above
    assert.deepEqual(log, [])
    m.handle('s1', clone())
    assert.deepEqual(log, ['kill'])

    // Files without peaks (older learn runs) give the average: 60 calls in 10 s, 6 per second.
    delete (learned.syscalls.clone as { peakPerSecond?: number }).peakPerSecond
    writeFileSync(join(dir, 'make.learn.json'), JSON.stringify(learned))
    assert.equal(loadRules([rules]).rules[0]!.baseline!.learned, 6)

    const bad = (text: string, want: RegExp) => {
      writeFileSync(rules, text)
      assert.throws(() => loadRules([rules]), want)
    }
    bad(rule('{from: make.learn.json}', 'event = stats'), /baseline\.from: .*name the syscalls in `when`/)
    bad(
      rule('{from: nope.learn.json}'),
      /baseline\.from: cannot read .*nope\.learn\.json.*written by cordon learn/,
    )
    bad(rule('{from: make.learn.json, learn: 5s}'), /give `learn` .* or `from` .*, not both/)
    bad(rule('{form: make.learn.json}'), /baseline\.form: unknown key/)
  })

  test('learn records the peak calls within a second from the launcher’s running totals', () => {
    let now = 0
    const r = new Recorder(emptyObservation('x86_64'), () => now)
    const counts = (clone: number): SandboxEvent => ({
      event: 'syscall-counts',
      counts: { clone },
      handled: clone,
      dropped: 0,
    })
    for (const [at, total] of [
      [250, 2],
      [500, 4],
      [750, 6],
      [1000, 8], // 8 in the first second
      [5000, 9], // a quiet gap: the launcher reported nothing between
      [5250, 19],
      [5500, 29], // 21 since the last report at least a second old (1000 ms: 8)
      [6750, 30],
    ] as const) {
      now = at
      r.add(counts(total))
    }
    assert.equal(r.observation.syscalls.clone!.count, 30)
    assert.equal(r.observation.syscalls.clone!.peakPerSecond, 21)
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

  test('the webhook retries with backoff until the receiver takes it, without blocking send()', async (t) => {
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
    t.after(() => server.close())
    const sink = new WebhookSink(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
      backoffMs: 10,
    })
    // send() only queues: it returns before any request is made (bench/timings.mjs times it).
    assert.equal(sink.send(alert), undefined)
    assert.equal(calls, 0, 'send() only queues')
    await sink.close()
    assert.equal(calls, 3)
    assert.equal(JSON.parse(bodies[0]!).output, 'boom')
    assert.deepEqual(sink.stats, { sent: 1, failed: 0, dropped: 0 })
  })

  test('a dead webhook is given up on, reported once with why, and counted', async () => {
    const port = await closedPort()
    const said: string[] = []
    const sink = new WebhookSink(`http://127.0.0.1:${port}/`, { attempts: 2, backoffMs: 5 }, 'cordon', (l) =>
      said.push(l),
    )
    sink.send(alert)
    sink.send(alert)
    await sink.close()
    assert.deepEqual(sink.stats, { sent: 0, failed: 2, dropped: 0 })
    assert.equal(said.length, 1, said.join('\n'))
    assert.equal(said[0]!.split(';')[0], `alerts to webhook:http://127.0.0.1:${port}/ fail (ECONNREFUSED)`)
    const blocked = new WebhookSink('http://127.0.0.1:9/', { attempts: 1 }, 'cordon', (l) => said.push(l))
    blocked.send(alert)
    await blocked.close()
    assert.match(said[1]!, /fetch\(\) never sends to this port/)
  })

  // helper-152: a receiver that was down held the end of a run for every alert's whole backoff
  // (6 alerts: 23 s) and said nothing.
  test('while a webhook is down, each next alert is tried once, and close() waits one timeout', async (t) => {
    let calls = 0
    const server = createServer(() => calls++) // takes the request, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => server.closeAllConnections())
    t.after(() => server.close())
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    const said: string[] = []
    const sink = new WebhookSink(url, { attempts: 3, backoffMs: 5, timeoutMs: 300 }, 'cordon', (l) =>
      said.push(l),
    )
    for (let i = 0; i < 20; i++) sink.send(alert)
    // The first alert's 3 attempts time out (~0.9 s): the receiver is down from then on, and
    // the second alert's one attempt is in flight. Waited for, not timed: a loaded host is slow.
    for (let i = 0; calls < 4; i++) {
      assert.ok(i < 500, `${calls} requests after 10 s`)
      await new Promise((r) => setTimeout(r, 20))
    }
    const started = Date.now()
    await sink.close()
    const waited = Date.now() - started
    assert.ok(
      waited < 3000,
      `close() waited ${waited} ms for a receiver that does not answer (each alert: 300)`,
    )
    assert.equal(sink.stats.sent, 0)
    assert.equal(sink.stats.failed, 20, 'every alert is counted, the abandoned ones too')
    assert.ok(calls >= 4 && calls <= 8, `${calls} requests: 3 for the first alert, then one each`)
    assert.equal(said.length, 1)
    assert.match(said[0]!, /fail \(no answer in time\)/)
  })

  test('a request to a receiver that never answers times out while the garbage collector runs', async (t) => {
    // CI68: AbortSignal.any over AbortSignal.timeout lost its timeout to a collection, and the
    // first alert's request waited forever. A collection every 10 ms makes that certain.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const server = createServer(() => {}) // takes the request, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => server.closeAllConnections())
    t.after(() => server.close())
    const said: string[] = []
    const sink = new WebhookSink(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      { attempts: 1, backoffMs: 5, timeoutMs: 300 },
      'cordon',
      (l) => said.push(l),
    )
    const collecting = setInterval(gc, 10)
    t.after(() => clearInterval(collecting))
    sink.send(alert)
    for (let i = 0; said.length === 0; i++) {
      assert.ok(i < 250, 'no answer and no timeout after 5 s')
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.match(said[0]!, /fail \(no answer in time\)/)
    await sink.close()
  })

  test('a default macro used without the default rules says where it went', async () => {
    // helper-152: `when: spawn …` with --no-default-rules said only "neither a macro nor a field".
    const { DEFAULT_RULES_FILE, loadRules } = await import('../../src/monitor/rules.js')
    const dir = mkdtempSync(join(tmpdir(), 'cordon-rules-'))
    try {
      const file = join(dir, 'r.yaml')
      writeFileSync(file, 'rules:\n  - rule: r\n    when: spawn and pids > 5\n    then: alert\n')
      assert.throws(
        () => loadRules([file]),
        /`spawn` is neither a macro nor a field \(a macro of the default rules/,
      )
      // With them loaded, it is theirs.
      assert.ok(loadRules([DEFAULT_RULES_FILE, file]).rules.some((r) => r.name === 'r'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('retries leave no listener behind on the sink', async (t) => {
    // Each backoff added an abort listener to the sink's close signal and never removed it: a
    // dozen retries over a run made Node warn of a leak on cordon's stderr.
    const server = createServer((_, res) => res.writeHead(503).end())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => server.close())
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.name)
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    const sink = new WebhookSink(url, { attempts: 13, backoffMs: 1 }, 'cordon', () => {})
    sink.send(alert)
    await sink.close()
    await new Promise((r) => setImmediate(r)) // a warning is emitted on the next tick
    assert.equal(sink.stats.failed, 1)
    assert.deepEqual(warnings, [])
  })

  test('a bad --alert is told what is wrong with it, without the secrets a URL carries', async () => {
    const { parseSink } = await import('../../src/monitor/sinks.js')
    const refused = (spec: string) => {
      try {
        parseSink(spec)
      } catch (e) {
        return (e as Error).message
      }
      return 'accepted'
    }
    assert.match(
      refused('webhook:notaurl'),
      /^--alert webhook:notaurl: a webhook is an http:\/\/ or https:\/\/ URL/,
    )
    const typo = refused('webhok:https://u:s3cret@hooks.example/x?token=s3cret')
    assert.match(
      typo,
      /^--alert webhok:https:\/\/hooks\.example\/x\?…: unknown destination `webhok` \(did you mean webhook\?\)/,
    )
    assert.doesNotMatch(typo, /s3cret/)
    assert.match(refused('file:'), /file: needs a path/)
  })

  test('the same --alert twice sends each alert once', async () => {
    const { defaultAlerts } = await import('../../src/cli/monitor-flags.js')
    assert.deepEqual(defaultAlerts({ alert: ['stderr', 'syslog', 'stderr'] }, { human: true }), [
      'stderr',
      'syslog',
    ])
  })

  test('a session says at its end how many alerts each sink could not deliver', async () => {
    const { MonitorSession } = await import('../../src/monitor/session.js')
    const said: string[] = []
    const session = await MonitorSession.open({
      alerts: ['webhook:http://127.0.0.1:9/hook?token=s3cret'],
      defaultRules: false,
      reload: false,
      log: (l) => said.push(l),
    })
    session.monitor.emit('alert', alert)
    session.monitor.emit('alert', alert)
    await session.close()
    assert.deepEqual(
      said.filter((l) => l.includes('not delivered')),
      ['2 alert(s) to webhook:http://127.0.0.1:9/hook?… were not delivered (2 failed)'],
    )
  })

  test('a syslog collector that refuses the connection loses each alert once, said once', async () => {
    const port = await closedPort()
    const said: string[] = []
    const { parseSink } = await import('../../src/monitor/sinks.js')
    const sink = parseSink(`syslog:tcp:127.0.0.1:${port}`, { log: (l) => said.push(l) })
    for (let i = 0; i < 3; i++) sink.send(alert)
    await sink.close()
    await new Promise((r) => setTimeout(r, 50)) // the connection's own error, after the writes'
    assert.equal(sink.stats.failed + sink.stats.dropped, 3, JSON.stringify(sink.stats))
    assert.equal(said.length, 1, said.join('\n'))
  })

  test('credentials in a webhook URL are sent as Basic authentication and never shown', async (t) => {
    const seen: { url?: string | undefined; auth?: string | undefined } = {}
    const server = createServer((req, res) => {
      seen.url = req.url
      seen.auth = req.headers.authorization
      res.writeHead(401).end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => server.close())
    const port = (server.address() as AddressInfo).port
    const said: string[] = []
    const { parseSink } = await import('../../src/monitor/sinks.js')
    const sink = parseSink(`webhook:http://al%40ce:pa%3Ass@127.0.0.1:${port}/hook?token=s3cret`, {
      log: (l) => said.push(l),
    })
    sink.send(alert)
    await sink.close()
    assert.equal(seen.url, '/hook?token=s3cret')
    assert.equal(seen.auth, `Basic ${Buffer.from('al@ce:pa:ss').toString('base64')}`)
    assert.deepEqual(sink.stats, { sent: 0, failed: 1, dropped: 0 }, 'a 401 is not retried')
    assert.equal(sink.name, `webhook:http://127.0.0.1:${port}/hook?…`)
    assert.match(said.join('\n'), /fail \(HTTP 401\)/)
    assert.doesNotMatch(said.join('\n'), /s3cret|pa%3Ass|al%40ce/)
    assert.throws(
      () => parseSink('webhook:http://[::1/hook?token=s3cret'),
      (e: Error) => /not a valid URL/.test(e.message) && !e.message.includes('s3cret'),
    )
  })

  test('syslog over UDP is RFC 5424 with the severity of the priority', async (t) => {
    const server = createSocket('udp4')
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r))
    t.after(() => server.close())
    const got = new Promise<string>((r) => server.once('message', (m) => r(m.toString())))
    const { parseSink } = await import('../../src/monitor/sinks.js')
    const sink = parseSink(`syslog:127.0.0.1:${server.address().port}`)
    sink.send(alert)
    const line = await got
    assert.equal(line, syslogLine(alert, line.split(' ')[2]))
    // No structured data: cordon has no IANA enterprise number for an SD-ID.
    assert.match(line, /^<82>1 1970-01-01T00:00:00.000Z \S+ cordon \d+ alert - r \(sandbox s1\): boom$/)
    await sink.close()
  })

  test('syslog over TCP frames each message by octet counting (RFC 6587)', async (t) => {
    const { createServer } = await import('node:net')
    let received = Buffer.alloc(0)
    const server = createServer((s) => s.on('data', (b: Buffer) => (received = Buffer.concat([received, b]))))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => server.close())
    const { parseSink } = await import('../../src/monitor/sinks.js')
    const port = (server.address() as { port: number }).port
    const sink = parseSink(`syslog:tcp:127.0.0.1:${port}`)
    assert.equal(sink.name, `syslog:tcp:127.0.0.1:${port}`)
    const alerts = [alert, { ...alert, output: 'caf\u00e9 \n 9 <1>' }]
    for (const a of alerts) sink.send(a)
    await sink.close()
    await new Promise((r) => setTimeout(r, 50))
    // Parse the frames back: LEN SP MSG, LEN in bytes.
    const frames: string[] = []
    for (let at = 0; at < received.length;) {
      const sp = received.indexOf(0x20, at)
      const len = Number(received.subarray(at, sp).toString())
      frames.push(received.subarray(sp + 1, sp + 1 + len).toString())
      at = sp + 1 + len
    }
    assert.deepEqual(
      frames,
      alerts.map((a) => syslogLine(a, frames[0]!.split(' ')[2])),
    )
    assert.deepEqual(sink.stats, { sent: 2, failed: 0, dropped: 0 })
  })

  test('syslog failures are reported once and counted; a missing socket is refused up front', async () => {
    const { parseSink } = await import('../../src/monitor/sinks.js')
    assert.throws(
      () => parseSink('syslog:unix:/nonexistent/log'),
      /--alert syslog:unix:\/nonexistent\/log: \/nonexistent\/log is not a socket, .*syslog:tcp:HOST:PORT/,
    )
    const notices: string[] = []
    // A port nothing listens on: the connection is refused.
    const sink = parseSink('syslog:tcp:127.0.0.1:1', { log: (l) => notices.push(l) })
    sink.send(alert)
    await new Promise((r) => setTimeout(r, 200))
    sink.send(alert) // within the reconnect interval: dropped, not retried in a loop
    await sink.close()
    assert.equal(notices.length, 1, notices.join('\n'))
    assert.match(
      notices[0]!,
      /alerts to syslog:tcp:127.0.0.1:1 fail \(.*ECONNREFUSED.*\); further failures are only counted/,
    )
    assert.ok(sink.stats.failed >= 1 && sink.stats.sent === 0, JSON.stringify(sink.stats))
  })
})
