// The `started` event's commandPid (spawn()'s child.pid) is the command's pid in the caller's pid
// namespace, the one the caller can signal: also when cordon itself runs in a pid namespace of
// its own (`unshare -p -f`), with a /proc of it (--mount-proc) or with the host's, whose numbers
// are another namespace's (the launcher read the pid from /proc, and got none, or another
// process's). The kernel gives it now: the command sends the launcher one datagram, whose sender
// pid (SCM_CREDENTIALS) comes in the receiver's namespace (native/launcher.c command_host_pid).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { ensureTestUser, isRoot, ROOT } from '../helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'cordon-started-pid-'))
chmodSync(dir, 0o755)
after(() => rmSync(dir, { recursive: true, force: true }))

// The caller signals child.pid itself (process.kill, not child.kill, which goes through init):
// the command's trap answers only when the pid is really its own.
const script = join(dir, 'caller.mjs')
writeFileSync(
  script,
  `import { spawn } from ${JSON.stringify(join(ROOT, 'build', 'src', 'run', 'spawn.js'))}
const child = spawn({ extends: ['minimal'] }, 'sh', ['-c', 'trap "echo usr1; exit 7" USR1; echo ready; while :; do sleep 0.05; done'],
  { stdio: ['ignore', 'pipe', 'inherit'], timeout: 20000, cwd: '/' })
let out = ''
let spawned = false
const signal = () => {
  if (!spawned || out !== 'ready\\n') return
  try { process.kill(child.pid, 'SIGUSR1') } catch (e) { out += String(e) + '\\n'; child.kill('SIGKILL') }
}
child.on('spawn', () => { spawned = true; signal() })
child.stdout.on('data', (d) => { out += d; signal() })
const r = await child.exited
console.log(JSON.stringify({ pid: child.pid, out, code: r.code, reason: r.reason }))
`,
  { mode: 0o644 },
)

function callerRun(prefix: string[], user?: { uid: number; gid: number }) {
  const argv = [...prefix, process.execPath, script]
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: '/',
    env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', NODE_EXTRA_CA_CERTS: '' },
    ...(user ?? {}),
  })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    pid?: number
    out: string
    code: number
    reason: string
  }
}

describe("the started event's commandPid is the command's pid in the caller's namespace", () => {
  const cases = [
    { name: 'cordon in the host pid namespace', prefix: [] as string[] },
    { name: 'cordon inside `unshare -p -f --mount-proc`', prefix: ['unshare', '-p', '-f', '--mount-proc'] },
    { name: 'cordon inside `unshare -p -f` with the host /proc', prefix: ['unshare', '-p', '-f'] },
  ]
  for (const c of cases)
    test(
      `${c.name} (root): the caller signals the command by it`,
      { skip: isRoot ? false : 'needs root' },
      () => {
        const got = callerRun(c.prefix)
        assert.equal(got.out, 'ready\nusr1\n', JSON.stringify(got))
        assert.equal(got.code, 7)
        assert.ok(got.pid && got.pid > 1, 'no pid')
      },
    )

  test(
    'cordon as the plain user: the caller signals the command by it',
    // `unshare -p` needs root; a plain user's own user namespace would make cordon take itself
    // for root there (cgroups, id ranges), another setup than cordon's plain-user path.
    { skip: isRoot ? false : 'needs root to create the test user' },
    () => {
      const got = callerRun([], ensureTestUser())
      assert.equal(got.out, 'ready\nusr1\n', JSON.stringify(got))
      assert.equal(got.code, 7)
    },
  )
})
