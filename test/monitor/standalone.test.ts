// `cordon monitor`, attached to a sandbox that another process started, judges its events as
// the in-process monitor does: a shell the sandbox starts is a shell-exec alert in both.
import assert from 'node:assert/strict'
import { spawn as spawnChild } from 'node:child_process'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawn } from '../../src/run/spawn.js'
import { CLI, projectDir } from '../helpers.js'

describe('cordon monitor', () => {
  test('attached after the start, it still tells the command from the shells it starts', async () => {
    const child = spawn({ extends: ['default'] }, 'sh', ['-c', 'sleep 2; sh -c true; bash -c true'], {
      stdio: 'ignore',
      publish: true,
      watch: ['execve', 'execveat'],
      context: { cwd: projectDir() },
    })
    for await (const ev of child.events) if (ev.event === 'started') break
    await sleep(200) // the command's own exec is behind us: the monitor attaches late
    const monitor = spawnChild(process.execPath, [CLI, 'monitor', '--json', child.id], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    monitor.stdout.on('data', (b: Buffer) => (out += b.toString()))
    monitor.stderr.on('data', (b: Buffer) => (err += b.toString()))
    void (async () => {
      for await (const ev of child.events) void ev // drain
    })()
    const r = await child.exited
    assert.equal(r.code, 0)
    const code = await Promise.race([
      new Promise((resolve) => monitor.once('exit', resolve)),
      sleep(10_000).then(() => 'running'),
    ])
    monitor.kill('SIGKILL')
    assert.equal(code, 0, err)
    const alerts = out
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { alert: { rule: string; output: string } }).alert)
      .filter((a) => a.rule === 'shell-exec')
    // Both shells it started, and not the command itself.
    assert.equal(alerts.length, 2, out + err)
    assert.ok(
      alerts.some((a) => /bash/.test(a.output)),
      JSON.stringify(alerts),
    )
  })

  test('attached to a sandbox started without --monitor, it names the rules that cannot fire', async () => {
    const child = spawn({ extends: ['default'] }, 'sleep', ['1'], {
      stdio: 'ignore',
      publish: true,
      context: { cwd: projectDir() },
    })
    for await (const ev of child.events) if (ev.event === 'started') break
    const monitor = spawnChild(process.execPath, [CLI, 'monitor', child.id], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let err = ''
    monitor.stderr.on('data', (b: Buffer) => (err += b.toString()))
    void (async () => {
      for await (const ev of child.events) void ev // drain
    })()
    await child.exited
    const code = await Promise.race([
      new Promise((resolve) => monitor.once('exit', resolve)),
      sleep(10_000).then(() => 'running'),
    ])
    monitor.kill('SIGKILL')
    assert.equal(code, 0, err)
    // helper-155: it named the exec rules only; the crash and fork-storm rules need process
    // events too, which only a monitored sandbox sends. Its cgroup's rules still watch it.
    const note = /watching sandbox .*\(started without --monitor: (.*)\)/.exec(err)?.[1]
    assert.ok(note, err)
    for (const rule of ['crash', 'fork-storm', 'shell-exec', 'exec-new-binary'])
      assert.ok(note.includes(rule), note)
    for (const rule of ['out-of-memory', 'pids-limit', 'memory-near-limit'])
      assert.ok(!note.includes(rule), note)
  })
})
