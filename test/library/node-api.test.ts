// The library feels like Node (issue 20, #17): spawn() is a ChildProcess-like EventEmitter whose
// pid is the command's, with AbortSignal; run() is promise-based like execa, rejecting with a
// SandboxError; input, maxBuffer, cwd, timeout and an env that sets the sandbox's environment.
// Real sandboxes, as root and as the plain user.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import {
  callerContext,
  compilePlan,
  CordonError,
  type EventOf,
  type Policy,
  resolvePolicy,
  run,
  SandboxError,
  type SandboxEvent,
  spawn,
} from '../../src/index.js'
import { ensureTestUser, isRoot, projectDir, ROOT } from '../helpers.js'

const policy: Policy = { extends: ['default'] }
const cwd = projectDir()

describe('spawn() is a ChildProcess-like EventEmitter', () => {
  test('spawn, exit and close fire in order; pid is the command, not the launcher', async () => {
    const p = spawn(policy, 'sleep', ['30'], { stdio: 'ignore', cwd })
    const order: string[] = []
    p.on('exit', (code, signal) => order.push(`exit ${code} ${signal}`))
    p.on('close', (code, signal) => order.push(`close ${code} ${signal}`))
    await new Promise<void>((resolve) => p.once('spawn', resolve))
    order.push('spawn')
    assert.ok(p.pid && p.pid !== p.launcherPid, `pid ${p.pid}, launcher ${p.launcherPid}`)
    // `spawn` comes when the exec closed the launcher's close-on-exec pipe, which the kernel does
    // before it sets the new program's arguments up: /proc/PID/cmdline may be empty a moment.
    let cmdline = ''
    for (let i = 0; i < 100 && !cmdline; i++) {
      cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8')
      if (!cmdline) await new Promise((r) => setTimeout(r, 10))
    }
    assert.equal(cmdline, 'sleep\x0030\x00')
    assert.equal(p.exitCode, null)
    assert.ok(p.kill('SIGTERM'))
    assert.equal(p.killed, true)
    await new Promise((resolve) => p.once('close', resolve))
    assert.deepEqual(order, ['spawn', 'exit null SIGTERM', 'close null SIGTERM'])
    assert.equal(p.signalCode, 'SIGTERM')
    assert.equal((await p.exited).reason, 'signal')
  })

  test('stdio streams and typed `event`s, as the async iterable yields them', async () => {
    const p = spawn(policy, 'sh', ['-c', 'read x; echo "got $x"; exit 4'], { stdio: 'pipe', cwd })
    const seen: SandboxEvent['event'][] = []
    let started: EventOf<'started'> | undefined
    p.on('event', (ev) => {
      seen.push(ev.event)
      if (ev.event === 'started') started = ev
    })
    p.stdin?.end('hello\n')
    let out = ''
    p.stdout?.on('data', (b: Buffer) => (out += b))
    const code = await new Promise((resolve) => p.once('close', (c) => resolve(c)))
    assert.equal(code, 4)
    assert.equal(out, 'got hello\n')
    // The cgroup's `stats` samples may come on either side of `exit`.
    const order = seen.filter((e) => e !== 'stats')
    assert.ok(order.indexOf('started') < order.indexOf('exit') && order.at(-1) === 'exit', seen.join(' '))
    assert.equal(started?.commandPid, p.pid)
  })

  test('an AbortSignal kills the whole sandbox: `error` AbortError, reason aborted', async () => {
    const controller = new AbortController()
    const p = spawn(policy, 'sh', ['-c', 'trap "" TERM; sleep 30 & sleep 30'], {
      stdio: 'ignore',
      cwd,
      signal: controller.signal,
    })
    const errors: Error[] = []
    p.on('error', (e) => errors.push(e))
    await new Promise<void>((resolve) => p.once('spawn', resolve))
    const started = performance.now()
    controller.abort()
    const result = await p.exited
    assert.equal(result.reason, 'aborted')
    assert.ok(performance.now() - started < 5000, 'killed, not waited for')
    assert.equal(errors[0]?.name, 'AbortError')
  })

  test('an already aborted signal: the sandbox is killed as it starts', async () => {
    const p = spawn(policy, 'sleep', ['30'], { stdio: 'ignore', cwd, signal: AbortSignal.abort() })
    assert.equal((await p.exited).reason, 'aborted')
  })

  test('command not found is an `error` event carrying an Error, as child_process’s ENOENT', async () => {
    const p = spawn(policy, 'no-such-command', [], { stdio: 'ignore', cwd })
    const error = await new Promise<Error>((resolve) => p.once('error', resolve))
    assert.ok(error instanceof CordonError)
    assert.equal(error.code, 'not_found')
    assert.match(
      error.message,
      /no-such-command could not start: exec no-such-command failed: no-such-command is not on this host either/,
    )
    const result = await p.exited
    assert.equal(result.code, 127)
    assert.equal(result.reason, 'setup')
  })
})

describe('run() is promise-based like execa', () => {
  test('a failing command rejects with a SandboxError carrying status, output and reason', async () => {
    const err = await run(policy, 'sh', ['-c', 'echo out; echo "bad \x1b[31mthing" >&2; exit 3'], {
      cwd,
    }).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof SandboxError && err instanceof Error)
    assert.equal(err.name, 'SandboxError')
    assert.equal(err.code, 'command_failed')
    assert.equal(err.exitCode, 3)
    assert.equal(err.signal, undefined)
    assert.equal(err.reason, 'exited')
    assert.equal(err.stdout, 'out\n')
    assert.equal(err.stderr, 'bad \x1b[31mthing\n')
    // The sandbox's stderr is quoted with its control characters escaped.
    assert.equal(
      err.message,
      'run(): `sh -c \'echo out; echo "bad \\e[31mthing" >&2; exit 3\'` exited with status 3\nbad \\e[31mthing',
    )
    assert.equal(err.result.code, 3)
  })

  test('reject: false resolves every ending, as before', async () => {
    const r = await run(policy, 'sh', ['-c', 'kill -KILL $$'], { cwd, reject: false })
    assert.equal(r.reason, 'signal')
    assert.equal(r.signal, 'SIGKILL')
    assert.equal(r.code, 137)
  })

  test('a signal, command not found, a setup failure: each its reason, code and step', async () => {
    const killed = await run(policy, 'sh', ['-c', 'kill -TERM $$'], { cwd }).catch((e: unknown) => e)
    assert.ok(killed instanceof SandboxError)
    assert.equal(killed.signal, 'SIGTERM')
    assert.equal(killed.reason, 'signal')
    assert.match(killed.message, /was killed by SIGTERM/)
    const missing = await run(policy, 'no-such-command', [], { cwd }).catch((e: unknown) => e)
    assert.ok(missing instanceof SandboxError)
    assert.equal(missing.code, 'not_found')
    assert.equal(missing.exitCode, 127)
    assert.equal(missing.step, 'exec')
    assert.equal(missing.reason, 'setup')
    const setup = await run({ ...policy, filesystem: [{ ro: '/nonexistent-cordon-source' }] }, 'true', [], {
      cwd,
    }).catch((e: unknown) => e)
    assert.ok(setup instanceof SandboxError)
    assert.equal(setup.code, 'setup_failed')
    assert.equal(setup.exitCode, 125)
    assert.match(setup.step ?? '', /bind/)
  })

  test('input is written to stdin; maxBuffer still rejects with its own code', async () => {
    const r = await run(policy, 'tr', ['a-z', 'A-Z'], { cwd, input: 'hello' })
    assert.equal(r.stdout, 'HELLO')
    const big = await run(policy, 'head', ['-c', '10000', '/dev/zero'], { cwd, maxBuffer: 1000 }).catch(
      (e: unknown) => e,
    )
    assert.ok(big instanceof SandboxError)
    assert.equal(big.code, 'max_buffer')
    assert.equal(big.step, 'stdout')
  })

  test('timeout kills the whole sandbox: reason timeout', async () => {
    const started = performance.now()
    const err = await run(policy, 'sleep', ['30'], { cwd, timeout: 300 }).catch((e: unknown) => e)
    assert.ok(err instanceof SandboxError)
    assert.equal(err.reason, 'timeout')
    assert.ok(performance.now() - started < 10_000)
  })
})

describe('env, hostEnv and cwd', () => {
  const dir = join(cwd, 'sub')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'marker'), 'here\n')
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('env sets the sandbox’s variables over the policy’s; hostEnv is what env.pass reads', async () => {
    const r = await run(
      { ...policy, env: { pass: ['FROM_HOST'], set: { POLICY: 'p', BOTH: 'policy' } } },
      'sh',
      ['-c', 'echo "$MINE|$POLICY|$BOTH|$FROM_HOST|$HOME"'],
      { cwd, env: { MINE: 'm', BOTH: 'caller', SKIPPED: undefined }, hostEnv: { FROM_HOST: 'h' } },
    )
    assert.equal(r.stdout, 'm|p|caller|h|/tmp\n')
  })

  test('cwd is where the command starts and what the default profile shows read-only', async () => {
    const r = await run(policy, 'sh', ['-c', 'pwd; cat marker; touch x 2>/dev/null || echo read-only'], {
      cwd: dir,
    })
    assert.equal(r.stdout, `${dir}\nhere\nread-only\n`)
  })

  test('bad options are refused up front, naming the option and the fix', () => {
    assert.throws(
      () => spawn(policy, 'true', [], { cwd: '/nonexistent-dir' }),
      /`cwd` \/nonexistent-dir is not a directory/,
    )
    assert.throws(() => spawn(policy, 'true', [], { env: { 'A=B': 'x' } }), /`env` has the name `A=B`/)
    assert.throws(() => spawn(policy, 'true', [], { timeout: -1 }), /`timeout` to be a positive number/)
  })

  // Past fd 2 a sandbox gets nothing (fd 3 is the launcher's channel; it closes the rest): an
  // entry there was dropped without a word, and the command found its fd closed. A watched name
  // that is no syscall (a typo) was never reported, and a rule waiting for it never fired.
  test('stdio past fd 2 and watch names that are no syscall are refused, before a launcher starts', async () => {
    const refused = (options: object, message: RegExp) =>
      assert.throws(
        () => spawn(policy, 'true', [], { cwd, ...options }),
        (e: CordonError) => e.code === 'invalid_usage' && message.test(e.message),
        JSON.stringify(options),
      )
    refused(
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] },
      /`stdio\[3\]` is `pipe`; a sandbox gets fds 0, 1 and 2 only/,
    )
    refused({ stdio: ['ignore', 'ignore', 'ignore', null, 7] }, /`stdio\[4\]` is `7`/)
    refused({ stdio: 'ipc' }, /`stdio` is `ipc`; use 'inherit', 'pipe', 'ignore' or an array/)
    refused({ stdio: 3 }, /expected `stdio` to be 'inherit', 'pipe', 'ignore' or an array/)
    refused({ watch: ['opneat'] }, /`watch` names `opneat`, which is not a syscall; did you mean `openat`\?/)
    refused({ watch: 'openat' }, /expected `watch` to be an array of syscall names/)
    // A short array, or one with holes, is child_process's: what is missing of fds 0-2 is a
    // pipe. Shorter, it put the launcher's channel on fd 1 or 2, and the caller's process died of
    // an uncaught exception.
    const holes: ('pipe' | undefined)[] = []
    holes[2] = 'pipe' // [, , 'pipe']
    for (const stdio of [['pipe'], [], holes, ['ignore', 'pipe']] as ('pipe' | 'ignore' | undefined)[][]) {
      const child = spawn(policy, 'sh', ['-c', 'echo out; echo err >&2'], { cwd, stdio })
      let out = ''
      child.stdout?.on('data', (d: Buffer) => (out += String(d)))
      child.stderr?.resume()
      // `exited` is the launcher's exit, as child_process's 'exit': the pipe may still hold the
      // output then (seen under load), so its end is waited for too, as with 'close'.
      const [ended] = await Promise.all([child.exited, once(child.stdout!, 'end')])
      assert.equal(ended.code, 0, JSON.stringify(stdio))
      assert.equal(out, 'out\n', JSON.stringify(stdio))
    }
    // What stays accepted: entries past fd 2 that ask for nothing, and real syscalls.
    const r = await spawn(policy, 'true', [], {
      cwd,
      stdio: ['ignore', 'ignore', 'ignore', null, undefined, 'ignore'],
      watch: ['openat'],
    }).exited
    assert.equal(r.code, 0)
  })

  // The plan's encoder checks each field (test/plan/encode.test.ts): a plan kept as JSON lost its
  // BPF program to Buffer's toJSON, was encoded as nothing, and its launcher waited forever.
  test('spawn() refuses a plan whose program went through JSON, before a launcher starts', () => {
    const plan = compilePlan(
      resolvePolicy({ policy: { extends: ['minimal'] }, baseDir: projectDir(), label: 't' }, projectDir()),
      { ...callerContext(), cwd: projectDir() },
    )
    const broken = {
      ...plan,
      ops: plan.ops.map((o) =>
        o.op === 'seccomp' ? { ...o, program: JSON.parse(JSON.stringify(o.program)) as Uint8Array } : o,
      ),
    }
    assert.throws(
      () => spawn({ kind: 'plan', plan: broken }, '/bin/true', [], { stdio: 'ignore' }),
      (e: CordonError) => e.code === 'invalid_usage' && /\(seccomp\): expected bytes/.test(e.message),
    )
  })
})

describe('spawn() takes a tagged input', () => {
  const resolved = resolvePolicy({ policy, baseDir: cwd, label: 'test' }, cwd)
  const plan = compilePlan(resolved, { ...callerContext(), cwd })
  const script = ['-c', 'echo "$MINE"']
  const options = { cwd, env: { MINE: 'm' } }

  test('policy, resolved and plan run alike, tagged or bare as before', async () => {
    const inputs = [
      { kind: 'policy', policy },
      { kind: 'resolved', policy: resolved },
      { kind: 'plan', plan },
      policy,
      resolved,
      plan,
    ] as const
    for (const [i, input] of inputs.entries()) {
      const r = await run(input, 'sh', script, options)
      assert.equal(r.stdout, 'm\n', `input ${i}: ${'kind' in input ? input.kind : 'bare'}`)
    }
  })

  test('an unknown kind is refused, naming the kinds there are', () => {
    assert.throws(
      () => spawn({ kind: 'yaml', policy } as unknown as Policy, 'true'),
      (e: unknown) =>
        e instanceof CordonError &&
        /unknown input kind `yaml`; use `policy`, `resolved` or `plan`/.test(e.message),
    )
    assert.throws(
      () => spawn(null as unknown as Policy, 'true'),
      (e: unknown) =>
        e instanceof CordonError &&
        /expected a policy object, a resolved policy or a compiled plan, got null/.test(e.message),
    )
    // A newcomer's run('default', ...): the profile's name, where its object belongs.
    const profileName: unknown = 'default'
    assert.throws(
      () => spawn(profileName as Policy, 'true'),
      (e: unknown) =>
        e instanceof CordonError &&
        e.message.startsWith('spawn() and run(): expected a policy object') &&
        e.message.endsWith(
          'got string; for a built-in profile pass `{ extends: ["default"] }`, for a policy file `loadPolicyFile(path)`',
        ),
    )
  })

  test('a compiled plan gets the cgroup decided for its run, joined before it starts', async (t) => {
    if (!isRoot) return t.skip('a cgroup for the run needs root (or a delegated subtree)')
    const child = spawn({ kind: 'plan', plan }, 'sh', ['-c', 'read x'], {
      ...options,
      stdio: 'pipe',
      cgroup: true,
    })
    const joined = new Promise<string>((resolve) =>
      child.once('spawn', () => {
        resolve(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8'))
        child.stdin!.end('\n')
      }),
    )
    const { code } = await child.exited
    assert.equal(code, 0)
    assert.ok(child.cgroup, 'the run has a cgroup')
    // The host sees the command in the run's own group, in every hierarchy the driver made.
    const seen = await joined
    for (const path of child.cgroup.joinPaths) {
      const name = path.split('/').pop()!
      assert.ok(seen.includes(`/${name}`), `${name} not in\n${seen}`)
    }
  })
})

describe('as the plain user', { skip: isRoot ? false : 'needs root to switch to the test user' }, () => {
  test('run() rejects, spawn() reports the command’s pid, env and cwd apply', () => {
    const user = ensureTestUser()
    const script = `
      import { run, spawn, SandboxError } from ${JSON.stringify(join(ROOT, 'build', 'src', 'index.js'))}
      const p = spawn({ extends: ['minimal'] }, 'sleep', ['5'], { stdio: 'ignore', cwd: '/' })
      await new Promise((r) => p.once('spawn', r))
      // As above: the arguments may not be set up yet at 'spawn' (CI6 read an empty cmdline).
      const { readFileSync } = await import('node:fs')
      let cmdline = ''
      for (let i = 0; i < 100 && !cmdline; i++) {
        cmdline = readFileSync('/proc/' + p.pid + '/cmdline', 'utf8')
        if (!cmdline) await new Promise((r) => setTimeout(r, 10))
      }
      p.kill('SIGKILL')
      await p.exited
      const ok = await run({ extends: ['minimal'] }, 'sh', ['-c', 'echo $X; pwd'], { env: { X: 'x' }, cwd: '/' })
      const err = await run({ extends: ['minimal'] }, 'sh', ['-c', 'exit 9'], { cwd: '/' }).catch((e) => e)
      console.log(JSON.stringify({ cmdline, out: ok.stdout, isError: err instanceof SandboxError, code: err.exitCode }))
    `
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: '/',
      uid: user.uid,
      gid: user.gid,
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' },
      timeout: 60_000,
    })
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), {
      cmdline: 'sleep\x005\x00',
      out: 'x\n/\n',
      isError: true,
      code: 9,
    })
  })
})
