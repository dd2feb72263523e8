// The addon starter (run/launcher-process.ts) at its edges: a start that goes wrong (NUL bytes,
// EMFILE between pipes, ENOENT, E2BIG), a caller that neither reads the output nor ends stdin,
// an inherited environment, an unnamed signal, a worker terminated with its launcher running.
// Each case is held to what child_process does for the same call.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { startLauncher } from '../../src/run/launcher-process.js'
import { spawn } from '../../src/run/spawn.js'
import { built, eachStarter, STARTERS, VIEW } from './starters.js'
const fdCount = () => readdirSync('/proc/self/fd').length
const module = JSON.stringify(join(import.meta.dirname, '../../src/run/launcher-process.js'))

test(
  'an argument with a NUL byte is refused and leaves no fd behind',
  { skip: !built && 'not built' },
  async () => {
    await eachStarter((which) => {
      const before = fdCount()
      const invalid = { code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError' }
      assert.throws(() => startLauncher('/bin/true', ['a\0b'], ['pipe', 'pipe', 'pipe'], {}), invalid)
      assert.throws(() => startLauncher('/bin/true', [], ['pipe', 'pipe', 'pipe'], { X: 'a\0b' }), invalid)
      assert.equal(fdCount(), before, which)
    })
  },
)

test(
  'running out of fds half way through the pipes leaves none of them open',
  { skip: !built && 'not built' },
  () => {
    // In a Node of its own with a low fd limit: fill the table, free `free` fds, start with pipes.
    const script = `
    import { openSync, closeSync, readdirSync } from 'node:fs'
    const { startLauncher } = await import(${module})
    const count = () => readdirSync('/proc/self/fd').length
    const out = []
    for (const [free, stdio] of [[3, ['pipe', 'pipe', 'pipe']], [2, ['pipe', 'ignore', 'ignore']], [5, ['pipe', 'pipe', 'pipe']]]) {
      const held = []
      try { for (;;) held.push(openSync('/dev/null', 'r')) } catch {}
      for (const fd of held.splice(0, free)) closeSync(fd)
      const before = count()
      let error = 'none'
      try { startLauncher('/bin/true', [], stdio, {}) } catch (e) { error = e.code }
      out.push(error + ' ' + (count() - before))
      for (const fd of held) closeSync(fd)
    }
    console.log(out.join(','))`
    const r = spawnSync(
      '/bin/sh',
      ['-c', 'ulimit -n 256 && exec "$0" --input-type=module -e "$1"', process.execPath, script],
      {
        encoding: 'utf8',
      },
    )
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'EMFILE 0,EMFILE 0,EMFILE 0')
  },
)

test(
  'output no one reads, and a stdin never ended, do not keep `close` from coming, as with child_process',
  { skip: !built && 'not built' },
  async () => {
    await eachStarter(async (which) => {
      const { process: child } = startLauncher(
        '/bin/sh',
        ['-c', 'echo out; echo err >&2; echo events >&3'],
        ['pipe', 'pipe', 'pipe'],
        {},
      )
      const closed = await new Promise((resolve) => {
        child.once('close', (code) => resolve(code))
        setTimeout(() => resolve('no close'), 5000).unref()
      })
      assert.equal(closed, 0, which)
    })
  },
)

test(
  'spawn(): a sandbox whose output is never read still emits `close`',
  { skip: !built && 'not built' },
  async () => {
    await eachStarter(async (which) => {
      const p = spawn(VIEW, 'sh', ['-c', 'echo out; echo err >&2'], {
        stdio: 'pipe',
        context: { cwd: '/' },
      })
      p.stdin!.end()
      const closed = new Promise((resolve) => {
        p.once('close', (code) => resolve(code))
        setTimeout(() => resolve('no close'), 5000).unref()
      })
      assert.equal((await p.exited).code, 0, which)
      assert.equal(await closed, 0, which)
    })
  },
)

test(
  'an environment that inherits its keys gives them all, as child_process does',
  { skip: !built && 'not built' },
  async () => {
    const env = Object.assign(Object.create({ BASE: 'inherited' }) as NodeJS.ProcessEnv, { OWN: 'own' })
    const seen: string[] = []
    await eachStarter(async () => {
      const { process: child, channel } = startLauncher(
        '/bin/sh',
        ['-c', 'echo "$BASE $OWN" >&3'],
        ['ignore', 'ignore', 'ignore'],
        env,
      )
      let out = ''
      channel.read(
        (text) => (out += text),
        () => {},
      )
      await new Promise((resolve) => child.once('close', resolve))
      seen.push(out)
    })
    assert.deepEqual(seen, ['inherited own\n', 'inherited own\n'])
  },
)

test(
  'spawn(): a sandbox with piped stdio that is never ended or read lets Node exit',
  { skip: !built && 'not built' },
  () => {
    // Nothing but the sandbox holds the loop: its exit must end the process, `close` heard first.
    const spawnModule = JSON.stringify(join(import.meta.dirname, '../../src/run/spawn.js'))
    const script = `
    const { spawn } = await import(${spawnModule})
    const p = spawn(${JSON.stringify(VIEW)}, 'sh', ['-c', 'echo out; exit 6'], { stdio: 'pipe', context: { cwd: '/' } })
    p.once('close', (code) => console.log('close', code))`
    for (const which of STARTERS) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 15_000,
        env: { ...process.env, CORDON_SPAWN: which === 'addon' ? '' : which },
      })
      assert.equal(r.signal, null, `${which}: did not exit by itself`)
      assert.equal(r.stdout.trim(), 'close 6', which)
    }
  },
)

test(
  'a start that fails still gives the piped stdio streams, closed, as child_process does',
  { skip: !built && 'not built' },
  async () => {
    await eachStarter(async (which) => {
      const before = fdCount()
      const { process: child, channel } = startLauncher(
        '/nonexistent/cordon',
        [],
        ['pipe', 'pipe', 'pipe'],
        {},
      )
      assert.ok(child.stdin && child.stdout && child.stderr && channel, which)
      const error = new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve))
      const closed = new Promise((resolve) => child.once('close', resolve))
      assert.equal((await error).code, 'ENOENT', which)
      await closed
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(fdCount(), before, which)
    })
  },
)

/** A sandbox whose launcher cannot start: its environment is more than exec takes (E2BIG). */
const tooBig = (stdio: 'pipe' | 'inherit') =>
  spawn(VIEW, 'true', [], {
    stdio,
    context: { cwd: '/' },
    hostEnv: { PATH: '/usr/bin:/bin', BIG: 'x'.repeat(200_000) },
  })

test(
  'spawn(): a launcher that cannot start (E2BIG) is an error, its stdio streams there and closed',
  { skip: !built && 'not built' },
  async () => {
    // child_process throws E2BIG from spawn() itself; the addon's start reports it on `exited`.
    const p = tooBig('pipe')
    p.on('error', () => {})
    p.stdout!.on('data', () => {})
    const closed = new Promise((resolve) => p.once('close', resolve))
    await assert.rejects(p.exited, /E2BIG/)
    await closed
  },
)

test(
  'spawn(): a launcher that cannot start ends its events, so a caller iterating them learns why',
  { skip: !built && 'not built' },
  async () => {
    // The run command iterates the events before it awaits `exited`: an iteration that never
    // ended left nothing on the loop, and Node exited 0 with the command never run.
    const p = tooBig('inherit')
    const seen: string[] = []
    const iterated = (async () => {
      for await (const ev of p.events) seen.push(ev.event)
      return 'ended'
    })()
    const hold = setTimeout(() => {}, 5000) // keeps the loop: a hang fails, not exits
    try {
      const outcome = await Promise.race([iterated, new Promise((r) => setTimeout(r, 3000, 'hung'))])
      assert.equal(outcome, 'ended')
      await assert.rejects(
        p.exited,
        (e: Error) => /Cannot start the launcher/.test(e.message) && /E2BIG/.test(e.message),
      )
      assert.deepEqual(seen, [])
    } finally {
      clearTimeout(hold)
    }
  },
)

test(
  'a worker terminated while its launcher runs leaves no pidfd or channel behind',
  { skip: !built && 'not built' },
  async () => {
    const count = (kind: RegExp) =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return kind.test(readlinkSync(`/proc/self/fd/${fd}`))
        } catch {
          return false
        }
      }).length
    const pidfds = () => count(/^anon_inode:\[pidfd\]$/)
    const sockets = () => count(/^socket:/)
    const before = pidfds()
    const socketsBefore = sockets()
    const src = `
    const { startLauncher } = await import(${JSON.stringify(`file://${join(import.meta.dirname, '../../src/run/launcher-process.js')}`)})
    const { parentPort } = await import('node:worker_threads')
    const { process: p, channel } = startLauncher('/bin/sleep', ['2'], ['pipe', 'pipe', 'pipe'], {})
    // Read by the addon on the worker's loop: its handle must close with the worker's env.
    channel.read(() => {}, () => {})
    parentPort.postMessage(p.pid)`
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`))
    const pid = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    assert.ok(pid > 0)
    assert.equal(pidfds(), before + 1)
    await worker.terminate()
    assert.equal(pidfds(), before)
    assert.equal(sockets(), socketsBefore)
  },
)

test(
  'kill() refuses a signal number the system does not name, as child_process does',
  { skip: !built && 'not built' },
  async () => {
    await eachStarter(async (which) => {
      const { process: child } = startLauncher('/bin/sleep', ['30'], ['ignore', 'ignore', 'ignore'], {})
      const closed = new Promise((resolve) => child.once('close', resolve))
      assert.throws(() => child.kill(999), { code: 'ERR_UNKNOWN_SIGNAL' }, which)
      assert.equal(child.kill(0), true, which)
      assert.equal(child.kill(9), true, which)
      await closed
      assert.equal(child.signalCode, 'SIGKILL', which)
    })
  },
)
