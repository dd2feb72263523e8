// The standalone monitor (`cordon monitor`, attached over the sandbox's event socket) and the
// in-process one (`cordon run --rules`) raise the same alerts on the same run: both build the
// same events and the same process facts, with cordon's default rules and a Falco file.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLI, cordon, projectDir } from '../helpers.js'

const FALCO = `
- list: shells
  items: [sh, bash, dash]
- macro: spawned_process
  condition: (evt.type in (execve, execveat) and evt.dir=<)
- rule: Shell from a shell
  desc: a shell started by a shell
  condition: spawned_process and proc.name in (shells) and proc.pname in (shells)
  output: shell %proc.name under %proc.pname (grandparent %proc.aname[2], exe %proc.exepath)
  priority: NOTICE
  tags: [shell]
- rule: Hostname read
  desc: the hostname file was opened
  condition: evt.type in (open, openat) and fd.name = /etc/hostname
  output: '%proc.name read %fd.name (parent %proc.pname)'
  priority: WARNING
`

// A shell, a shell from a shell, a refused unshare (escape-attempt), a crash, a file read; the
// first sleep lets `cordon monitor` attach first (it scans for new sandboxes every 0.5 s). The
// last keeps the sandbox's init alive while the attached monitor, which reads the socket a
// little behind, reads /proc for the names outputs ask for: of a process gone by then it gets
// `<NA>` (monitor/proc-info.ts), where the in-process monitor, on time, had read them.
const WORKLOAD =
  'sleep 1.5; bash -c "cat /etc/hostname >/dev/null; dash -c true; true"; unshare -U true 2>/dev/null; sh -c "kill -SEGV \\$\\$"; sleep 1; true'

interface Alert {
  rule: string
  sandbox: string
  output: string
}

const readAlerts = (file: string): Alert[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Alert)
    : []

describe('monitor parity', () => {
  test('cordon monitor and cordon run --rules raise the same alerts on one run', async (t) => {
    const dir = join(projectDir(), 'parity')
    mkdirSync(dir, { recursive: true })
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const rules = join(dir, 'falco.yaml')
    writeFileSync(rules, FALCO)
    const standalone = join(dir, 'standalone.jsonl')
    const inProcess = join(dir, 'in-process.jsonl')
    const monitor = spawn(
      process.execPath,
      [CLI, 'monitor', '--rules', rules, '--alert', `file:${standalone}`],
      {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let err = ''
    monitor.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const ended = new Promise((resolve) => monitor.once('exit', resolve))
    t.after(() => monitor.kill('SIGKILL'))
    await sleep(1000) // loaded and scanning
    const r = cordon(['run', '--rules', rules, '--alert', `file:${inProcess}`, '--', 'sh', '-c', WORKLOAD], {
      timeout: 60_000,
    })
    assert.equal(r.status, 0, r.stderr)
    await sleep(1500) // the socket's last events, then the detach
    monitor.kill('SIGTERM')
    await Promise.race([ended, sleep(10_000)])
    const mine = readAlerts(inProcess)
    const id = mine[0]?.sandbox
    assert.ok(id, `no alert in-process: ${r.stderr}`)
    // The standalone monitor watches every sandbox of this user: only this run's are compared.
    const theirs = readAlerts(standalone).filter((a) => a.sandbox === id)
    const key = (a: Alert) => `${a.rule}: ${a.output}`
    const rules_ = new Set(mine.map((a) => a.rule))
    for (const want of ['shell-exec', 'escape-attempt', 'crash', 'Shell from a shell', 'Hostname read'])
      assert.ok(rules_.has(want), `${want} did not fire: ${mine.map(key).join('\n')}`)
    assert.deepEqual(theirs.map(key).sort(), mine.map(key).sort(), err)
  })
})
