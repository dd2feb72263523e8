// spawn()'s two starters (run/launcher-process.ts): cordon's addon (posix_spawn, a pidfd) and
// child_process. The addon must give the launcher exactly the process child_process gives it
// (fds, environment, signal dispositions and mask), report its exit the same way, and never
// wait for or signal a process it did not start.
import assert from 'node:assert/strict'
import { spawn as spawnChild, spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  type LauncherProcess,
  type StdioEntry,
  startLauncher,
  starter,
} from '../../src/run/launcher-process.js'
import { spawn } from '../../src/run/spawn.js'
import { built, eachStarter, type Starter, STARTERS, VIEW, withStarter } from './starters.js'

/** Runs file under one starter; resolves with its exit and what it wrote to fd 3. */
function run(
  which: Starter,
  file: string,
  args: string[],
  stdio: StdioEntry[] = ['ignore', 'ignore', 'ignore'],
  env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', ONLY: 'this' },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; child: LauncherProcess }> {
  const { process: child, channel } = withStarter(which, () => startLauncher(file, args, stdio, env))
  let out = ''
  channel.read(
    (text) => (out += text),
    () => {},
  )
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
      resolve({ code, signal, out, child }),
    )
  })
}

test(
  'the addon is what spawn() uses where it is built',
  { skip: !built && 'cordon-spawn.node is not built here' },
  () => {
    assert.equal(starter(), 'addon')
  },
)

// What the program sees of its process: signal dispositions and mask, its fds, its environment.
// ls runs while the shell holds none of a pipeline's fds: its list is the process's own.
const SELF = `exec 9>&3; grep -E '^(SigBlk|SigIgn|SigCgt|NoNewPrivs)' /proc/self/status >&9; ls -l /proc/$$/fd >&9; env | sort >&9`

/** The fd lines as `N -> target`, without the numbers that differ between any two runs. */
const normal = (out: string) =>
  out
    .split('\n')
    .map(
      (l) =>
        /(\d+) -> (.*)$/
          .exec(l)
          ?.slice(1)
          .join(' -> ')
          .replace(/\[\d+\]/, '[N]') ?? l,
    )
    .filter((l) => !l.startsWith('total '))
    .join('\n')

test(
  'the addon gives the process exactly what child_process gives it',
  { skip: !built && 'not built' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-starter-'))
    try {
      const file = openSync(join(dir, 'out'), 'w')
      const seen: string[] = []
      for (const which of STARTERS) {
        const r = await run(which, '/bin/sh', ['-c', SELF], ['ignore', file, 'pipe'])
        assert.equal(r.code, 0, `${which}: ${r.out}`)
        seen.push(normal(r.out))
      }
      closeSync(file)
      assert.equal(seen[0], seen[1])
      assert.match(seen[0]!, /SigIgn:\s+0+\n/) // Node ignores SIGPIPE: the child must not
      assert.match(seen[0]!, /SigBlk:\s+0+\n/)
      // (dash keeps fd 1 at 10 while `>&9` is in force)
      for (const fd of [
        /\n0 -> \/dev\/null\n/,
        /\n1?0? -> \/tmp\/cordon-starter-.*\/out\n/,
        /\n2 -> socket/,
        /\n3 -> socket/,
      ])
        assert.match(seen[0]!, fd)
      assert.match(seen[0]!, /ONLY=this\n/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
)

for (const which of STARTERS)
  test(
    `${which}: exit codes, signals, pipes and a failed start`,
    { skip: !built && 'not built' },
    async () => {
      assert.equal((await run(which, '/bin/sh', ['-c', 'exit 7'])).code, 7)
      const killed = await run(which, '/bin/sh', ['-c', 'kill -TERM $$'])
      assert.deepEqual([killed.code, killed.signal], [null, 'SIGTERM'])
      // A pipe each way: what goes in comes out.
      const { process: child } = withStarter(which, () =>
        startLauncher('/bin/sh', ['-c', 'cat; echo e >&2'], ['pipe', 'pipe', 'pipe'], {}),
      )
      let out = ''
      let err = ''
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()))
      child.stdin!.end('hello\n')
      const code = await new Promise((r) => child.once('close', r))
      assert.deepEqual([code, out, err], [0, 'hello\n', 'e\n'])
      // A program that is not there: `error` (ENOENT, as child_process words it), no `exit`.
      await assert.rejects(run(which, '/nonexistent/cordon', []), (e: NodeJS.ErrnoException) => {
        assert.equal(e.code, 'ENOENT')
        assert.equal(e.syscall, 'spawn /nonexistent/cordon')
        return true
      })
    },
  )

test(
  'kill() signals the started process, and nothing once it has been reaped',
  { skip: !built && 'not built' },
  async () => {
    const { process: child } = startLauncher('/bin/sleep', ['30'], ['ignore', 'ignore', 'ignore'], {})
    const exited = new Promise<[number | null, string | null]>((r) => child.once('exit', (c, s) => r([c, s])))
    assert.equal(child.kill(0), true)
    assert.equal(child.kill('SIGKILL'), true)
    assert.equal(child.killed, true)
    assert.deepEqual(await exited, [null, 'SIGKILL'])
    // Its pid may belong to another process by now: a pidfd never reaches it.
    assert.equal(child.kill('SIGKILL'), false)
    assert.throws(() => child.kill('SIGNOPE' as NodeJS.Signals), { code: 'ERR_UNKNOWN_SIGNAL' })
  },
)

test(
  "many exits at once are all reaped, and neither starter takes the other one's children",
  { skip: !built && 'not built' },
  async () => {
    // SIGCHLD coalesces: 64 exits may come as a few signals. child_process's children run beside.
    const ours = Array.from({ length: 64 }, (_, i) => run('addon', '/bin/sh', ['-c', `exit ${i % 50}`]))
    const theirs = Array.from(
      { length: 16 },
      (_, i) =>
        new Promise<number | null>((r) =>
          spawnChild('/bin/sh', ['-c', `exit ${i + 1}`]).once('exit', (c) => r(c)),
        ),
    )
    const codes = (await Promise.all(ours)).map((r) => r.code)
    assert.deepEqual(
      codes,
      Array.from({ length: 64 }, (_, i) => i % 50),
    )
    assert.deepEqual(
      await Promise.all(theirs),
      Array.from({ length: 16 }, (_, i) => i + 1),
    )
  },
)

test(
  'a started process keeps Node running until it exits, as child_process does',
  { skip: !built && 'not built' },
  () => {
    // Nothing else holds the loop: the exit must still be heard.
    const script = `
    const { startLauncher } = await import(${JSON.stringify(join(import.meta.dirname, '../../src/run/launcher-process.js'))})
    const { process: child } = startLauncher('/bin/sh', ['-c', 'sleep 0.3; exit 5'], ['ignore', 'ignore', 'ignore'], {})
    child.once('exit', (code) => console.log('exit', code))`
    const r = spawnChildSync(process.execPath, ['--input-type=module', '-e', script])
    assert.equal(r.trim(), 'exit 5')
  },
)

function spawnChildSync(file: string, args: string[]): string {
  const out = join(mkdtempSync(join(tmpdir(), 'cordon-starter-')), 'out')
  const fd = openSync(out, 'w')
  const r = spawnSync(file, args, { stdio: ['ignore', fd, 'inherit'] })
  closeSync(fd)
  assert.equal(r.status, 0)
  const text = readFileSync(out, 'utf8')
  rmSync(join(out, '..'), { recursive: true, force: true })
  return text
}

test('spawn() runs a sandbox through either starter alike', { skip: !built && 'not built' }, async () => {
  await eachStarter(async (which) => {
    const p = spawn(VIEW, 'sh', ['-c', 'read x; echo "$x" out; echo err >&2; exit 3'], {
      stdio: 'pipe',
      context: { cwd: '/' },
    })
    const closed = new Promise((res) => p.once('close', res))
    let out = ''
    let err = ''
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()))
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()))
    p.stdin!.end('in\n')
    const r = await p.exited
    await closed
    assert.deepEqual([r.code, r.reason, out, err], [3, 'exited', 'in out\n', 'err\n'], which)
    assert.equal(p.child.constructor.name === 'ChildProcess', which === 'child_process')
  })
})
