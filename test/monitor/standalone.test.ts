// `cordon monitor`, attached to a sandbox that another process started, judges its events as
// the in-process monitor does: a shell the sandbox starts is a shell-exec alert in both.
import assert from 'node:assert/strict'
import { spawn as spawnChild } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawn } from '../../src/run/spawn.js'
import { CLI, projectDir } from '../helpers.js'

/** `cordon monitor ARGS` in the background: what it printed so far, and how it ended (its exit
 * code, or `running` after 10 s, when it is killed). */
function startMonitor(args: string[]) {
  const proc = spawnChild(process.execPath, [CLI, 'monitor', ...args], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const said = { out: '', err: '' }
  proc.stdout.on('data', (b: Buffer) => (said.out += b.toString()))
  proc.stderr.on('data', (b: Buffer) => (said.err += b.toString()))
  const ended = async () => {
    const code = await Promise.race([
      new Promise((resolve) => proc.once('exit', resolve)),
      sleep(10_000).then(() => 'running'),
    ])
    proc.kill('SIGKILL')
    return code
  }
  /** Waits until `seen()` holds (every 20 ms, at most `tries` times: 10 s). */
  const until = async (seen: () => boolean, what: string, tries = 500) => {
    for (let i = 0; !seen(); i++) {
      assert.ok(i < tries, `${what}: ${said.err}${said.out}`)
      await sleep(20)
    }
  }
  return { said, ended, until, kill: () => proc.kill('SIGKILL') }
}

/** A published sandbox running `command`, once it has started. */
async function startedSandbox(command: string, args: string[], extra: { watch?: string[] } = {}) {
  const child = spawn({ extends: ['default'] }, command, args, {
    stdio: 'ignore',
    publish: true,
    context: { cwd: projectDir() },
    ...extra,
  })
  for await (const ev of child.events) if (ev.event === 'started') break
  return child
}

/** The registry's record of a sandbox, to copy into one a test makes up. */
async function recordOf(id: string) {
  const { list } = await import('../../src/run/registry.js')
  const real = list().find((r) => r.id === id)
  assert.ok(real, 'the sandbox is registered')
  return real
}

describe('cordon monitor', () => {
  test('attached after the start, it still tells the command from the shells it starts', async () => {
    const child = await startedSandbox('sh', ['-c', 'sleep 2; sh -c true; bash -c true'], {
      watch: ['execve', 'execveat'],
    })
    await sleep(200) // the command's own exec is behind us: the monitor attaches late
    const monitor = startMonitor(['--json', child.id])
    void (async () => {
      for await (const ev of child.events) void ev // drain
    })()
    const r = await child.exited
    assert.equal(r.code, 0)
    assert.equal(await monitor.ended(), 0, monitor.said.err)
    const { out, err } = monitor.said
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
    const child = await startedSandbox('sleep', ['30'])
    const monitor = startMonitor([child.id])
    void (async () => {
      for await (const ev of child.events) void ev // drain
    })()
    // Ended once watched: a run that ends while a loaded host starts node is never attached to.
    await monitor.until(() => monitor.said.err.includes('watching sandbox'), 'the monitor never attached')
    child.kill('SIGKILL')
    await child.exited
    assert.equal(await monitor.ended(), 0, monitor.said.err)
    const { err } = monitor.said
    // helper-155: it named the exec rules only; the crash and fork-storm rules need process
    // events too, which only a monitored sandbox sends. Its cgroup's rules still watch it.
    const note = /watching sandbox .*\(started without --monitor: (.*)\)/.exec(err)?.[1]
    assert.ok(note, err)
    for (const rule of ['crash', 'fork-storm', 'shell-exec', 'exec-new-binary'])
      assert.ok(note.includes(rule), note)
    for (const rule of ['out-of-memory', 'pids-limit', 'memory-near-limit'])
      assert.ok(!note.includes(rule), note)
  })

  test('a run killed before it accepted the monitor is left, and the monitor goes on', async () => {
    // A connection queued on a socket that closes unaccepted reads ECONNRESET; readline passed
    // that on unheard and cordon monitor died of it (seen watching a test suite's runs). The
    // record is a second one for a real sandbox's launcher, naming a socket that never accepts.
    const { register, openRegistry } = await import('../../src/run/registry.js')
    const { listenUnix, closeFd } = await import('../../src/run/launcher-process.js')
    const { privateStateDir } = await import('../../src/run/state-dir.js')
    const child = await startedSandbox('sleep', ['5'])
    const real = await recordOf(child.id)
    const id = `${real.id.slice(0, 4)}dead`
    const path = join(privateStateDir(), `${id}.sock`)
    const fd = listenUnix(path)
    // No addon here: publish() serves with net, which accepts at once.
    const remove =
      fd !== undefined && fd >= 0
        ? register(openRegistry(), { ...real, id, events: path, command: ['cordon-reset-test'] })
        : undefined
    try {
      if (fd === undefined || fd < 0 || !remove) return
      const monitor = startMonitor([id])
      await monitor.until(() => monitor.said.err.includes('watching sandbox'), 'the monitor never attached')
      closeFd(fd) // its connection, queued and never accepted, is reset
      assert.equal(await monitor.ended(), 0, monitor.said.err)
      assert.doesNotMatch(monitor.said.err, /ECONNRESET|Unhandled/)
    } finally {
      remove?.()
      rmSync(path, { force: true })
      child.kill('SIGKILL')
      await child.exited
    }
  })

  test('a run shorter than the scan is still picked up', async () => {
    // helper-155: a 0.3 s run was never seen (the registry was read every 500 ms); a record
    // renamed into place now wakes the monitor at once.
    const monitor = startMonitor(['--json'])
    const { said } = monitor
    const marker = `cordon-short-${process.pid}`
    try {
      // Watching: a long run it reports, before the short one starts.
      const long = spawn({ extends: ['default'] }, 'sh', ['-c', `: ${marker}-long; sleep 5`], {
        stdio: 'ignore',
        publish: true,
        context: { cwd: projectDir() },
      })
      await monitor.until(() => said.err.includes(`${marker}-long`), 'the monitor never watched the long run')
      const short = spawn({ extends: ['default'] }, 'sh', ['-c', `: ${marker}; sleep 0.2; kill -SEGV $$`], {
        stdio: 'ignore',
        publish: true,
        processEvents: true,
        context: { cwd: projectDir() },
      })
      await short.exited
      const crashed = () =>
        said.out
          .split('\n')
          .some((l) => l.includes('"rule":"crash"') && l.includes(`"sandbox":"${short.id}"`))
      await monitor.until(crashed, 'no crash alert for the short run', 250)
      long.kill('SIGKILL')
      await long.exited
    } finally {
      monitor.kill()
    }
  })

  test('asked for a sandbox that ends before it is watched, it ends too', async () => {
    // CI69: a `sleep 1` that ended while cordon monitor started was never attached to, and the
    // monitor waited for it for good. A record that cannot be attached to (it names no event
    // socket), removed while the monitor runs, stands for it.
    const { register, openRegistry } = await import('../../src/run/registry.js')
    const child = await startedSandbox('sleep', ['30'])
    const real = await recordOf(child.id)
    const unwatchable = { ...real, id: `${real.id.slice(0, 4)}ab00`, command: ['cordon-gone-test'] }
    delete unwatchable.events
    const remove = register(openRegistry(), unwatchable)
    try {
      const monitor = startMonitor([unwatchable.id])
      await monitor.until(
        () => monitor.said.err.includes('publishes no events'),
        'the monitor never found it',
      )
      remove()
      assert.equal(await monitor.ended(), 0, monitor.said.err)
    } finally {
      remove()
      child.kill('SIGKILL')
      await child.exited
    }
  })
})
