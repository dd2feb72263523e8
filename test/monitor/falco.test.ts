// Falco rules files: a file written as Falco's documentation describes it (lists, macros,
// exceptions, append and override, tags, %field outputs) loads with a report for each rule; the
// rules cordon can map fire on a real sandbox, and --alert-format falco writes Falco's JSON.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { type Alert, Monitor, type Target } from '../../src/monitor/engine.js'
import { falcoAlert } from '../../src/monitor/falco-output.js'
import { loadRules, parseRules, watchedSyscalls } from '../../src/monitor/rules.js'
import type { SandboxEvent } from '../../src/run/events.js'
import { cordon, projectDir } from '../helpers.js'

const FALCO_FILE = `
- required_engine_version: 17

- list: shell_binaries
  items: [ash, bash, csh, ksh, sh, tcsh, zsh]
- list: shell_binaries
  items: [dash]
  append: true
- list: all_shells
  items: [shell_binaries, '"busybox"']

- macro: spawned_process
  condition: (evt.type in (execve, execveat) and evt.dir=<)
- macro: container
  condition: (container.id != host)
- macro: shell_procs
  condition: proc.name in (all_shells)
- macro: never_true
  condition: (evt.num=0)

- rule: Shell in sandbox
  desc: a shell was spawned in a sandbox
  condition: spawned_process and container and shell_procs
  output: Shell spawned (user=%user.name uid=%user.uid shell=%proc.name parent=%proc.pname cmdline=%proc.cmdline gparent=%proc.aname[2] id=%container.id port=%fd.lport)
  priority: NOTICE
  tags: [container, shell, mitre_execution]
  exceptions:
    - name: shell_from_shell
      fields: [proc.name, proc.pname]
      comps: [=, in]
      values:
        - [zsh, [zsh]]

- rule: Shell in sandbox
  exceptions:
    - name: shell_from_shell
      values:
        - [dash, [dash, sh]]
  append: true

- rule: Read hostname
  desc: the hostname file was opened
  condition: evt.type in (open, openat) and fd.name pmatch (/etc/hostname) and not proc.name in (sudo)
  output: hostname read (file=%fd.name dir=%fd.directory proc=%proc.name parent=%proc.pname ancestor=%proc.aname[2] exe=%proc.exepath)
  priority: WARNING
  tags: [filesystem]

- rule: Read hostname
  condition: and fd.filename = hostname
  override:
    condition: append

- rule: Write below etc
  desc: needs fields cordon does not have
  condition: evt.type = openat and evt.is_open_write=true and fd.typechar='f' and fd.num>=0 and fd.name startswith /etc
  output: write below etc (%fd.name)
  priority: ERROR

- rule: Unused
  desc: switched off by a later item
  condition: spawned_process and never_true
  output: never
  priority: DEBUG
- rule: Unused
  enabled: false

- rule: Kubernetes
  desc: another event source
  condition: ka.verb = create
  output: k8s
  priority: INFO
  source: k8s_audit
`

const target: Target = {
  id: 'sb1',
  command: ['sh'],
  startedAt: 0,
  limits: {},
  freeze: () => 'test',
  kill: () => {},
}

function alertsFor(text: string, events: SandboxEvent[]): Alert[] {
  const m = new Monitor(parseRules(text))
  const out: Alert[] = []
  m.on('alert', (a) => out.push(a))
  m.attach(target)
  for (const ev of events) m.handle(target.id, ev)
  return out
}

const exec = (pid: number, ppid: number, exe: string): SandboxEvent => ({
  event: 'process',
  action: 'exec',
  pid,
  ppid,
  exe,
  source: 'connector',
})

describe('Falco rules files', () => {
  test('load with a report naming, for each rule, the fields cordon lacks', () => {
    const set = parseRules(FALCO_FILE, 'falco.yaml')
    const report = Object.fromEntries(set.report.map((r) => [r.rule, r]))
    assert.equal(report['Shell in sandbox']?.status, 'loaded')
    assert.deepEqual(report['Shell in sandbox']?.outputMissing, ['fd.lport'])
    assert.equal(report['Read hostname']?.status, 'loaded')
    assert.equal(report['Write below etc']?.status, 'not mapped')
    assert.deepEqual(report['Write below etc']?.missing, ['fd.num', 'fd.typechar'])
    assert.equal(report.Unused?.status, 'disabled')
    assert.equal(report.Kubernetes?.status, 'other source')
    assert.match(set.notes.join('\n'), /required_engine_version ignored/)
    assert.deepEqual(
      set.rules.map((r) => r.name),
      ['Shell in sandbox', 'Read hostname'],
    )
    const shell = set.rules[0]!
    assert.equal(shell.priority, 'notice')
    assert.deepEqual(shell.tags, ['container', 'shell', 'mitre_execution'])
    // evt.type values that are syscalls are reported by the sandbox; execve for the exec
    // events' fallback, open/openat for the hostname rule.
    assert.deepEqual(watchedSyscalls(set), ['execve', 'execveat', 'open', 'openat'])
  })

  test('exceptions, appended values and list references decide as Falco documents', () => {
    const alerts = alertsFor(FALCO_FILE, [
      exec(10, 1, '/usr/bin/dash'), // the command: a shell, parent not a shell
      exec(11, 10, '/usr/bin/bash'), // bash under dash: alert
      exec(12, 11, '/usr/bin/dash'), // dash under bash: alert
      exec(13, 12, '/usr/bin/dash'), // dash under dash: the appended exception
      exec(14, 13, '/usr/bin/cat'), // not a shell
    ])
    assert.deepEqual(
      alerts.map((a) => a.fields?.['proc.name']),
      ['dash', 'bash', 'dash'],
    )
    assert.equal(alerts[1]!.fields?.['proc.pname'], 'dash')
    assert.equal(alerts[2]!.fields?.['proc.aname[2]'], 'dash')
    assert.match(alerts[1]!.output, /shell=bash parent=dash .* id=sb1 port=<NA>\)$/)
  })

  test("cordon's own rules see parent and ancestor names too", () => {
    const rules =
      'rules:\n  - rule: r\n    when: event = process and action = exec and parent = bash and ancestors = dash\n    output: "{program} from {parent}"\n'
    const m = new Monitor(parseRules(rules))
    const out: Alert[] = []
    m.on('alert', (a) => out.push(a))
    m.attach(target)
    for (const ev of [
      exec(10, 1, '/usr/bin/dash'),
      exec(11, 10, '/usr/bin/bash'),
      exec(12, 11, '/usr/bin/cat'),
      exec(13, 10, '/usr/bin/cat'),
    ])
      m.handle(target.id, ev)
    assert.deepEqual(
      out.map((a) => a.output),
      ['cat from bash'],
    )
    assert.deepEqual(out[0]!.fields, { program: 'cat', parent: 'bash' })
  })

  test('operators: contains, icontains, startswith, endswith, glob, pmatch, exists, intersects', () => {
    const cases: { cond: string; want: boolean }[] = [
      { cond: 'fd.name contains host', want: true },
      { cond: 'fd.name icontains HOST', want: true },
      { cond: 'fd.name startswith /etc/', want: true },
      { cond: 'fd.name endswith name', want: true },
      { cond: 'fd.name glob "/etc/*name"', want: true },
      { cond: 'fd.name pmatch (/etc, /usr)', want: true },
      { cond: 'fd.name pmatch (/et)', want: false },
      { cond: 'fd.name exists', want: true },
      { cond: 'proc.pname exists', want: false },
      { cond: 'fd.name intersects (/etc/hostname, /x)', want: true },
      { cond: 'not (evt.type = openat or evt.type = open)', want: false },
      { cond: 'evt.type=openat and evt.dir=> and fd.directory=/etc', want: true },
    ]
    for (const { cond, want } of cases) {
      const rule = `- rule: r\n  desc: d\n  condition: ${cond}\n  output: x\n  priority: INFO\n`
      const ev: SandboxEvent = {
        event: 'syscall',
        syscall: 'openat',
        arch: 'x86_64',
        nr: 257,
        pid: 999_999_999,
        args: [0n, 0n, 0n, 0n, 0n, 0n],
        path: '/etc/hostname',
      }
      assert.equal(alertsFor(rule, [ev]).length, want ? 1 : 0, cond)
    }
  })

  test('a broken condition is an error naming the rule and the column', () => {
    assert.throws(
      () =>
        parseRules(
          '- rule: r\n  desc: d\n  condition: proc.name in (sh\n  output: x\n  priority: INFO\n',
          'f.yaml',
        ),
      /f\.yaml: rule r\.condition: expected `,` or `\)`/,
    )
    assert.throws(
      () => parseRules('- rule: r\n  condition: a\n  append: true\n', 'f.yaml'),
      /rule r: appends to or overrides a rule that is not defined before it/,
    )
  })

  test('the JSON output has Falco shape', () => {
    const a: Alert = {
      time: '2026-12-02T10:11:12.345Z',
      rule: 'R',
      priority: 'info',
      sandbox: 'abc',
      command: ['x'],
      output: 'hello',
      actions: ['alert'],
      event: {},
      tags: ['t'],
      fields: { 'proc.name': 'cat' },
    }
    assert.deepEqual(falcoAlert(a, 'host1'), {
      output: '10:11:12.345000000: Informational hello',
      priority: 'Informational',
      rule: 'R',
      time: '2026-12-02T10:11:12.345Z',
      output_fields: { 'container.id': 'abc', 'container.name': 'abc', 'proc.name': 'cat' },
      hostname: 'host1',
      tags: ['t'],
      source: 'syscall',
    })
  })

  test('on a real sandbox, the mapped rules fire and alerts are written in Falco JSON', (t) => {
    const dir = join(projectDir(), 'falco')
    mkdirSync(dir, { recursive: true })
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const rules = join(dir, 'falco_rules.yaml')
    writeFileSync(rules, FALCO_FILE)
    const check = cordon(['monitor', '--rules', rules, '--no-default-rules', '--check', '--json'])
    assert.equal(check.status, 0, check.stderr)
    const report = (
      JSON.parse(check.stdout) as { rules: { rule: string; status: string; missing: string[] }[] }
    ).rules
    assert.deepEqual(
      report.map((r) => [r.rule, r.status, r.missing.join(',')]),
      [
        ['Shell in sandbox', 'loaded', ''],
        ['Read hostname', 'loaded', ''],
        ['Write below etc', 'not mapped', 'fd.num,fd.typechar'],
        ['Unused', 'disabled', ''],
        ['Kubernetes', 'other source', 'ka.verb'],
      ],
    )
    const out = join(dir, 'alerts.json')
    const r = cordon([
      'run',
      '--no-default-rules',
      '--rules',
      rules,
      '--alert-format',
      'falco',
      '--alert',
      `file:${out}`,
      '--',
      'sh',
      '-c',
      // `; true` after each: a shell runs its last command by exec, which would change parents.
      'bash -c "cat /etc/hostname >/dev/null; dash -c true; true"; dash -c true; true',
    ])
    assert.equal(r.status, 0, r.stderr)
    // Said at load: the rule that is not mapped, and the output field shown as <NA>.
    assert.match(r.stderr, /rule "Write below etc" not loaded: cordon has no fd\.num, fd\.typechar/)
    assert.match(r.stderr, /rule "Shell in sandbox": its output shows <NA> for fd\.lport/)
    const alerts = readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown> & { output_fields: Record<string, unknown> })
    for (const a of alerts) {
      assert.deepEqual(Object.keys(a).sort(), [
        'hostname',
        'output',
        'output_fields',
        'priority',
        'rule',
        'source',
        'tags',
        'time',
      ])
      assert.match(String(a.output), /^\d\d:\d\d:\d\d\.\d{9}: (Notice|Warning) /)
      assert.ok(!Number.isNaN(Date.parse(String(a.time))))
      assert.equal(a.source, 'syscall')
    }
    const shells = alerts.filter((a) => a.rule === 'Shell in sandbox')
    // The command (dash under the launcher), bash under it, dash under bash; not the dash
    // that dash started (the appended exception).
    assert.deepEqual(
      shells.map((a) => [a.output_fields['proc.name'], a.output_fields['proc.pname']]),
      [
        ['dash', 'cordon-exec'],
        ['bash', 'dash'],
        ['dash', 'bash'],
      ],
      JSON.stringify(alerts),
    )
    assert.deepEqual(shells[0]!.tags, ['container', 'shell', 'mitre_execution'])
    assert.equal(shells[0]!.priority, 'Notice')
    const read = alerts.filter((a) => a.rule === 'Read hostname')
    assert.equal(read.length, 1, JSON.stringify(alerts))
    assert.deepEqual(
      [
        read[0]!.output_fields['proc.name'],
        read[0]!.output_fields['proc.pname'],
        read[0]!.output_fields['fd.name'],
      ],
      ['cat', 'bash', '/etc/hostname'],
    )
    assert.equal(read[0]!.output_fields['proc.aname[2]'], 'dash')
    assert.equal(read[0]!.output_fields['container.id'], shells[0]!.output_fields['container.id'])
  })

  test('a cordon rules file and a Falco one load together', () => {
    const dir = join(projectDir(), 'falco-mixed')
    mkdirSync(dir, { recursive: true })
    const a = join(dir, 'a.yaml')
    const b = join(dir, 'b.yaml')
    writeFileSync(a, 'rules:\n  - rule: own\n    when: event = oom\n    tags: [memory]\n')
    writeFileSync(b, FALCO_FILE)
    try {
      const set = loadRules([a, b])
      assert.deepEqual(
        set.rules.map((r) => [r.name, r.dialect]),
        [
          ['own', 'cordon'],
          ['Shell in sandbox', 'falco'],
          ['Read hostname', 'falco'],
        ],
      )
      assert.deepEqual(set.rules[0]!.tags, ['memory'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
