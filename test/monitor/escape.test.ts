// Log injection (issue 17, point 6): bytes the sandbox controls — a path with a newline, an
// ESC sequence, a C1 control — reach every human sink escaped, so they can neither forge a
// line nor drive a terminal, and every JSON line stays one line for any line splitter. The
// syslog sink feeds one long-lived logger, however many alerts there are (point 7).
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import type { Alert } from '../../src/monitor/engine.js'
import { FileSink, parseSink, StreamSink, SyslogSink, syslogLine } from '../../src/monitor/sinks.js'
import { escapeControl, jsonLine } from '../../src/run/escape.js'
import { eventJson } from '../../src/run/events.js'

/** A path a sandbox can create: a newline that starts a forged cordon line, and colour codes. */
const EVIL = '/tmp/x\ncordon: [critical] forged (sandbox 1): \u001b[31mred\u009b2J\u2028end'

const alert = (output: string): Alert => ({
  time: '2026-12-02T00:00:00.000Z',
  rule: 'shell-exec',
  priority: 'warning',
  sandbox: 'abc123',
  command: ['sh'],
  output,
  actions: ['alert'],
  event: { event: 'syscall', path: output },
})

/** Nothing a terminal or a line splitter acts on. */
function assertInert(line: string): void {
  // eslint-disable-next-line no-control-regex -- what must not be there
  assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, JSON.stringify(line))
}

describe('escapeControl', () => {
  const cases: { name: string; input: string; want: string }[] = [
    { name: 'plain text stays', input: '/usr/bin/sh (pid 7)', want: '/usr/bin/sh (pid 7)' },
    { name: 'newline, CR and tab are named', input: 'a\nb\rc\td', want: 'a\\nb\\rc\\td' },
    { name: 'ESC is \\e', input: '\u001b[31mred', want: '\\e[31mred' },
    { name: 'other C0 and DEL as \\xHH', input: '\u0000\u0007\u007f', want: '\\x00\\x07\\x7f' },
    { name: 'C1 controls (NEL, CSI) as \\xHH', input: '\u0085\u009b', want: '\\x85\\x9b' },
    {
      name: 'line separators and bidi overrides',
      input: '\u2028\u2029\u202e\u2066',
      want: '\\u2028\\u2029\\u202e\\u2066',
    },
    { name: 'a backslash doubles, so escapes are unambiguous', input: 'a\\nb', want: 'a\\\\nb' },
    { name: 'printable Unicode stays', input: 'café → 日本', want: 'café → 日本' },
    {
      name: 'invisible format characters (zero-width, marks, BOM, tags) show',
      input: 'a\u200bb\u200fc\ufeffd\u{e0041}e\u00adf',
      want: 'a\\u200bb\\u200fc\\ufeffd\\u{e0041}e\\xadf',
    },
    {
      name: 'a pair whose low half looks like a path byte stays',
      input: '\u{1f480} \u{10080}',
      want: '\u{1f480} \u{10080}',
    },
    { name: 'a byte that is not UTF-8 shows as \\xHH', input: 'a\udc80b', want: 'a\\x80b' },
  ]
  for (const c of cases) test(c.name, () => assert.equal(escapeControl(c.input), c.want))

  test('no control character survives, whatever the input', () => {
    let all = ''
    for (let i = 0; i < 0x2100; i++) all += String.fromCharCode(i)
    assertInert(escapeControl(all))
  })
})

describe('jsonLine', () => {
  test('escapes what JSON.stringify leaves raw (DEL, C1, U+2028/2029) and keeps the value', () => {
    const value = { path: EVIL, del: '\u007f' }
    const line = jsonLine(value)
    assert.match(JSON.stringify(value), /\u2028/, 'JSON.stringify alone leaves U+2028 raw')
    assertInert(line)
    assert.deepEqual(JSON.parse(line), value)
    // Python's str.splitlines() and many JSON-lines readers split on these.
    assert.equal(line.split(/[\n\r\u0085\u2028\u2029]/).length, 1)
  })

  test('events are encoded with it', () => {
    const line = eventJson({ event: 'process', action: 'exec', pid: 1, exe: EVIL, source: 'polling' })
    assertInert(line)
    assert.equal((JSON.parse(line) as { exe: string }).exe, EVIL)
  })
})

describe('human sinks escape what the sandbox controls', () => {
  test('stderr lines: one line, no ESC, the forged line shown as text', () => {
    let written = ''
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        written += chunk.toString()
        cb()
      },
    })
    new StreamSink('stderr', Object.assign(out, { isTTY: true })).send(alert(`shell started: ${EVIL}`))
    const lines = written.split('\n')
    assert.equal(lines.length, 2, JSON.stringify(written)) // one line and its newline
    assert.equal(lines[1], '')
    // The sink's own colour codes are the only escape sequences.
    // eslint-disable-next-line no-control-regex -- removing them
    const body = lines[0]!.replace(/\u001b\[[\d;]*m/g, '')
    assertInert(body)
    assert.match(
      body,
      /shell started: \/tmp\/x\\ncordon: \[critical\] forged .*\\e\[31mred\\x9b2J\\u2028end$/,
    )
  })

  test('the file sink writes JSON lines that stay one line each', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-sink-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'alerts.jsonl')
    const sink = new FileSink(file)
    sink.send(alert(EVIL))
    sink.send(alert('second'))
    await sink.close()
    const lines = readFileSync(file, 'utf8').split('\n')
    assert.equal(lines.length, 3)
    for (const l of lines.slice(0, 2)) assertInert(l)
    assert.equal((JSON.parse(lines[0]!) as Alert).output, EVIL)
    assert.equal(statSync(file).mode & 0o777, 0o600)
  })

  test('the file sink refuses a symbolic link planted at its path', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-sink-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const victim = join(dir, 'victim')
    writeFileSync(victim, 'keep\n')
    symlinkSync(victim, join(dir, 'alerts.jsonl'))
    assert.throws(() => new FileSink(join(dir, 'alerts.jsonl')), /is a symbolic link/)
    assert.equal(readFileSync(victim, 'utf8'), 'keep\n')
  })

  test('syslog over UDP and TCP: the message is escaped', () => {
    const line = syslogLine({ ...alert(EVIL), sandbox: 'a"]\nb' }, 'host')
    assertInert(line)
    assert.match(line, /\(sandbox a"\]\\nb\)/)
    assert.match(line, /\/tmp\/x\\ncordon: \[critical\]/)
  })

  test('syslog through logger: 300 alerts, one logger process, one escaped message each', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-syslog-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'log.sock')
    let received = ''
    // logger(1) tries a datagram socket, then a stream one: a stream server stands in for /dev/log.
    const server = createServer((s) => s.on('data', (b: Buffer) => (received += b.toString())))
    await new Promise<void>((r) => server.listen(path, r))
    t.after(() => server.close())
    const sink = parseSink(`syslog:unix:${path}`) as SyslogSink
    let mostLoggers = 0
    for (let i = 0; i < 300; i++) {
      sink.send(alert(`${i} ${EVIL}`))
      if (i % 50 === 0) mostLoggers = Math.max(mostLoggers, loggerChildren())
    }
    await sink.close()
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(sink.started, 1)
    assert.ok(mostLoggers <= 1, `${mostLoggers} logger processes at once`)
    assert.deepEqual(sink.stats, { sent: 300, failed: 0, dropped: 0 })
    const messages = received.split('\n').filter(Boolean)
    assert.equal(messages.length, 300, received.slice(0, 500))
    for (const m of messages) {
      assertInert(m)
      assert.match(m, /^<84>1 \S+ \S+ cordon .* shell-exec \(sandbox abc123\): \d+ \/tmp\/x\\ncordon: /)
    }
  })

  test('--alert json without an events channel is refused with what to pass', () => {
    assert.throws(() => parseSink('json'), /--alert json: .*add --events FILE or --events-fd N/)
  })
})

/** Children of this process named logger. */
function loggerChildren(): number {
  let n = 0
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === process.pid && stat.includes('(logger)')) n++
    } catch {}
  }
  return n
}
