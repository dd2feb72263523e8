// Exit statuses, signals, reaping, and dying with the parent.
import assert from 'node:assert/strict'
import { spawn as spawnChild } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawn } from '../../src/index.js'
import { CLI, cordon, isRoot, projectDir, runSettled as run } from '../helpers.js'

const policy = { extends: ['default'] }
const ctx = { context: { cwd: projectDir() } }

/** Host pids whose command line contains marker. */
function processesWith(marker: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry))
    } catch {}
  }
  return found
}

describe('exit status and signals', () => {
  const cases = [
    { name: 'exit 0', script: 'exit 0', code: 0, signal: undefined },
    { name: 'exit 3', script: 'exit 3', code: 3, signal: undefined },
    { name: 'killed by SIGKILL', script: 'kill -KILL $$', code: 137, signal: 'SIGKILL' },
    { name: 'killed by SIGSEGV', script: 'kill -SEGV $$', code: 139, signal: 'SIGSEGV' },
    // Named as bash's `kill -l` and runc name them: the event said SIGUNKNOWN, and learn that
    // "the command was killed by SIGUNKNOWN".
    { name: 'killed by SIGRTMIN+6', script: 'kill -40 $$', code: 168, signal: 'SIGRTMIN+6' },
    { name: 'killed by SIGRTMAX-14', script: 'kill -50 $$', code: 178, signal: 'SIGRTMAX-14' },
    { name: 'killed by SIGRTMAX', script: 'kill -64 $$', code: 192, signal: 'SIGRTMAX' },
    { name: 'killed by 33, glibc\u2019s own', script: 'kill -33 $$', code: 161, signal: 'SIG33' },
  ]
  for (const c of cases)
    test(`propagates ${c.name}`, async () => {
      const r = await run(policy, 'sh', ['-c', c.script], ctx)
      assert.equal(r.code, c.code)
      assert.equal(r.signal, c.signal)
    })

  // ChildProcess's fields hold the signals Node has names for; another is its status alone.
  test('spawn() tells a real-time signal by its status', async () => {
    const p = spawn(policy, 'sh', ['-c', 'kill -40 $$'], { ...ctx, stdio: 'ignore' })
    const [code, signal] = await new Promise<unknown[]>((r) => p.once('exit', (...a) => r(a)))
    assert.deepEqual([code, signal, p.exitCode, p.signalCode], [168, null, 168, null])
    assert.equal((await p.exited).reason, 'signal')
  })

  test('the CLI exits with the command status, 126 and 127', () => {
    assert.equal(cordon(['run', '--', 'sh', '-c', 'exit 42']).status, 42)
    const missing = cordon(['run', '--', 'no-such-command-here'])
    assert.equal(missing.status, 127)
    assert.match(
      missing.stderr,
      /exec no-such-command-here failed: no-such-command-here is not on this host either/,
    )
    const notExec = cordon(['run', '--', '/etc/hostname'])
    assert.equal(notExec.status, 126)
  })

  test('cordon failures exit 125 with one line naming the step and the fix', () => {
    // A policy's entry can be `optional: true`; a flag's missing source is refused before the
    // run, with what a flag can do (test/cli/errors2.test.ts).
    const file = join(projectDir(), 'missing-source.yaml')
    writeFileSync(file, 'extends: [default]\nfilesystem:\n  - ro: /srv/nonexistent:/var/www\n')
    const r = cordon(['run', '-p', file, '--', 'true'])
    assert.equal(r.status, 125)
    assert.equal(
      r.stderr,
      'cordon: bind /srv/nonexistent -> /var/www failed: source does not exist; create it or mark the entry `optional: true` (ENOENT)\n',
    )
    const flag = cordon(['run', '--ro', '/srv/nonexistent:/var/www', '--', 'true'])
    assert.equal(flag.status, 125)
    assert.equal(
      flag.stderr,
      'cordon: --ro /srv/nonexistent:/var/www: /srv/nonexistent does not exist; create it first, give a path that exists, or drop the flag\n',
    )
  })

  test('zombies are reaped by the sandbox init', async () => {
    // The orphaned grandchild exits first and must not linger as a zombie under pid 1.
    const r = await run(
      policy,
      'sh',
      ['-c', '(sh -c "exit 0" &) ; sleep 0.3; ps -eo stat= | grep -c Z || true'],
      ctx,
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), '0')
  })

  test('SIGTERM to the sandbox reaches the command', async () => {
    const child = spawn(
      policy,
      'sh',
      ['-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done'],
      {
        ...ctx,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout?.on('data', (b: Buffer) => {
      out += b
    })
    while (!out.includes('ready')) await sleep(20)
    child.kill('SIGTERM')
    const r = await child.exited
    assert.equal(r.code, 7)
    assert.match(out, /got-term/)
  })

  // SIGSTOP stopped the launcher, not the command, and `exited` never came (helper-130).
  test('kill("SIGSTOP") stops the command and kill("SIGCONT") continues it', async () => {
    const child = spawn(policy, 'sh', ['-c', 'while :; do echo tick; sleep 0.05; done'], {
      ...ctx,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let ticks = 0
    child.stdout?.on('data', (b: Buffer) => {
      ticks += String(b).split('tick').length - 1
    })
    while (ticks < 2) await sleep(20)
    assert.equal(child.kill('SIGSTOP'), true)
    await sleep(200) // what was on its way
    const stopped = ticks
    await sleep(500)
    assert.equal(ticks, stopped, 'no tick while stopped')
    assert.equal(child.kill('SIGCONT'), true)
    for (let i = 0; i < 100 && ticks === stopped; i++) await sleep(20)
    assert.ok(ticks > stopped, 'ticking again')
    child.kill('SIGTERM')
    const r = await child.exited
    assert.equal(r.signal, 'SIGTERM')
  })

  test('kill -TERM to the cordon CLI reaches the command', async () => {
    const marker = `cordon-term-${process.pid}`
    const cli = spawnChild(
      process.execPath,
      [CLI, 'run', '--', 'sh', '-c', `trap "exit 9" TERM; echo ${marker}; while :; do sleep 0.05; done`],
      {
        cwd: projectDir(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    cli.stdout.on('data', (b: Buffer) => {
      out += b
    })
    while (!out.includes(marker)) await sleep(20)
    cli.kill('SIGTERM')
    const code = await new Promise((resolve) => cli.once('exit', resolve))
    assert.equal(code, 9)
  })

  test('SIGKILL to the cordon CLI leaves no sandboxed process alive', async () => {
    const marker = `cordon-orphan-${process.pid}`
    const cli = spawnChild(
      process.execPath,
      [CLI, 'run', '--', 'sh', '-c', `echo ready; (sleep 1000; echo ${marker}) & sleep 1001 # ${marker}`],
      { cwd: projectDir(), stdio: ['ignore', 'pipe', 'inherit'] },
    )
    await new Promise((resolve) => cli.stdout.once('data', resolve))
    assert.ok(processesWith(marker).length > 0, 'the sandbox should be running')
    // As root the default profile's limits give the sandbox a cgroup, which outlives the killed
    // supervisor, empty, until a later sandbox removes the groups whose supervisor is gone.
    const groups = () =>
      ['pids', 'memory', 'cpu', 'freezer']
        .map((c) => `/sys/fs/cgroup/${c}/cordon`)
        .filter(existsSync)
        .flatMap((d) => readdirSync(d).filter((n) => n.startsWith(`run-${cli.pid}-`)))
    const grouped = isRoot && groups().length > 0
    if (isRoot && existsSync('/sys/fs/cgroup/pids/cordon')) assert.ok(grouped, 'a v1 host gives root a group')
    cli.kill('SIGKILL')
    for (let i = 0; i < 100 && processesWith(marker).length > 0; i++) await sleep(20)
    assert.deepEqual(processesWith(marker), [])
    if (grouped) {
      if (cli.exitCode === null && cli.signalCode === null) await new Promise((r) => cli.once('exit', r)) // reaped, not a zombie
      // A killed process leaves /proc's command lines (its memory goes first) before it leaves
      // its group: the next run's sweep removes only empty groups, and under CI's load it came
      // while one still held a dying process (CI25). Empty first, as the sweep needs.
      const held = () =>
        ['pids', 'memory', 'cpu', 'freezer'].flatMap((c) =>
          groups()
            .map((n) => `/sys/fs/cgroup/${c}/cordon/${n}/cgroup.procs`)
            .filter(existsSync)
            .filter((f) => readFileSync(f, 'utf8').trim() !== ''),
        )
      for (let i = 0; i < 250 && held().length > 0; i++) await sleep(20)
      assert.deepEqual(held(), [], 'the launcher empties the groups')
      const next = await run({ extends: ['default'] }, 'true', [], { context: { cwd: projectDir() } })
      assert.equal(next.code, 0, next.stderr)
      assert.deepEqual(groups(), [])
    }
  })
})
