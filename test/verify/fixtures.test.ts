// verify's own fixtures are safe on a shared host (issue 17, point 1): run by root, no other
// user can reach or execute a setuid file verify makes, at any moment; the fixtures go on every
// way out (end, SIGINT, SIGTERM) and a SIGKILLed run's are swept at the next start.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { CLI, ensureTestUser, isRoot, projectDir } from '../helpers.js'
import { resolvePolicy } from '../../src/index.js'
import { placeSuidFixture, prepare } from '../../src/verify/fixtures.js'
import { sweepStale } from '../../src/verify/private-dir.js'

const TMP = '/tmp'
const fixtureDirs = (pid: number) =>
  readdirSync(TMP).filter((n) => n.startsWith(`cordon-verify-fixture-${pid}-`))

/** `cordon verify ARGS` as root, in the background. */
function startVerify(args: string[]): {
  child: ChildProcess
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
} {
  const child = spawn(process.execPath, [CLI, 'verify', '--json', ...args], {
    cwd: projectDir(),
    stdio: 'ignore',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
  })
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, done }
}

/** Resolves once the battery runs: a launcher (cordon-exec) is a child of the verify process.
 * Two minutes: in CI a fork bomb of another file (verify/oom-bomb) can hold both CPUs while this
 * verify starts (CI15 waited 30 s in vain); a verify that ended first is said at once. */
async function batteryRunning(pid: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!existsSync(`/proc/${pid}`)) throw new Error(`verify (pid ${pid}) ended before its battery was seen`)
    let kids: string[] = []
    try {
      kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
    } catch {}
    for (const k of kids) {
      try {
        if (readFileSync(`/proc/${k}/cmdline`, 'utf8').split('\0')[0]!.endsWith('cordon-exec')) return
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('the battery did not start')
}

/** `cordon verify ARGS` held (SIGSTOP) in the middle of its battery: its launcher running and
 * its private directory there. The battery of two probes takes ~0.2 s, and under CI's load this
 * process's poll came after verify had ended (CI28): such a start, or one held just after its
 * directory went, is ended and made again. The caller signals it, then sends SIGCONT. */
async function verifyHeldMidBattery(args: string[]): Promise<ReturnType<typeof startVerify>> {
  for (let attempt = 1; ; attempt++) {
    const started = startVerify(args)
    const pid = started.child.pid!
    try {
      await batteryRunning(pid)
      process.kill(pid, 'SIGSTOP')
      if (fixtureDirs(pid).length === 1) return started
      process.kill(pid, 'SIGCONT')
    } catch (e) {
      if (attempt === 5) throw e
    }
    if (attempt === 5) throw new Error('verify never held in the middle of its battery in 5 starts')
    await started.done
  }
}

// Walks what verify writes — its entries in /tmp, and its stamps in the directories
// write-outside aims at — as a plain user, over and over, and reports every setuid/setgid file
// it can execute, how often it saw verify's private directory, and whether that directory ever
// let it in. (Only verify's names: other tests running alongside may plant files of their own.)
// Ends, printing a summary, when its stdin closes.
const POLLER = `
const fs = require('node:fs'), path = require('node:path')
const found = new Set(); let loops = 0, sawPrivate = 0, enteredPrivate = 0
function walk(p, depth) {
  let st; try { st = fs.lstatSync(p) } catch { return }
  if (st.isFile() && (st.mode & 0o6000)) { try { fs.accessSync(p, fs.constants.X_OK); found.add(p) } catch {} }
  if (!st.isDirectory() || depth < 0) return
  let names; try { names = fs.readdirSync(p) } catch { return }
  // Only root's: a plain user's own verify (other tests may run one meanwhile) is its own.
  if (path.basename(p).startsWith('cordon-verify-fixture-') && st.uid !== process.getuid()) enteredPrivate++
  for (const n of names) walk(path.join(p, n), depth - 1)
}
function scan(dir, prefix) {
  let names; try { names = fs.readdirSync(dir) } catch { return }
  for (const n of names) if (n.startsWith(prefix)) {
    if (n.startsWith('cordon-verify-fixture-')) sawPrivate++
    walk(path.join(dir, n), 3)
  }
}
let open = true
process.stdin.on('data', () => {}).on('end', () => { open = false })
const targets = JSON.parse(process.argv[2])
function loop() {
  scan('/tmp', 'cordon-verify'); for (const d of targets) scan(d, '.cordon-verify'); loops++
  if (open) setImmediate(loop)
  else console.log(JSON.stringify({ found: [...found], loops, sawPrivate, enteredPrivate }))
}
loop()
`

describe(
  'verify fixtures on a shared host',
  { concurrency: 1, skip: !isRoot && 'root makes the setuid fixture' },
  () => {
    test('a plain user polling /tmp during a root verify never finds a setuid file it can execute', async (t) => {
      const user = ensureTestUser()
      const dir = mkdtempSync(join(TMP, 'cordon-poller-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      chmodSync(dir, 0o755)
      writeFileSync(join(dir, 'poll.cjs'), POLLER, { mode: 0o644 })
      const home = process.env.HOME ?? '/root'
      const poller = spawn(
        process.execPath,
        [join(dir, 'poll.cjs'), JSON.stringify(['/etc', '/usr', '/var', home, TMP, dirname(projectDir())])],
        {
          uid: user.uid,
          gid: user.gid,
          stdio: ['pipe', 'pipe', 'inherit'],
          env: { PATH: '/usr/bin:/bin' },
        },
      )
      let out = ''
      poller.stdout.on('data', (b: Buffer) => (out += b))
      const pollerDone = new Promise((r) => poller.once('exit', r))
      // The probes that make or invite setuid files (the fixture, the plant directory), the
      // root-only secret, and every other probe's fixtures.
      const { child, done } = startVerify([])
      await batteryRunning(child.pid!)
      const { code } = await done
      poller.stdin.end()
      await pollerDone
      const summary = JSON.parse(out) as {
        found: string[]
        loops: number
        sawPrivate: number
        enteredPrivate: number
      }
      assert.ok(code === 0 || code === 1, `verify ended with ${code}`)
      assert.deepEqual(summary.found, [], 'setuid/setgid files a plain user could execute')
      assert.ok(summary.loops > 10, `the poller ran ${summary.loops} times`)
      assert.ok(summary.sawPrivate > 0, 'the poller saw the private directory')
      assert.equal(summary.enteredPrivate, 0, 'the private directory let a plain user in')
      assert.deepEqual(fixtureDirs(child.pid!), [])
    })

    test('while it exists, the setuid fixture cannot be reached or run by a plain user', async (t) => {
      const user = ensureTestUser()
      const policy = resolvePolicy({
        policy: { extends: ['default'] },
        baseDir: projectDir(),
        label: 'default',
      })
      const fx = await prepare(policy, '/root', projectDir())
      t.after(() => fx.close())
      const suid = placeSuidFixture(fx)
      assert.equal(lstatSync(suid.path).mode & 0o7777, 0o6755)
      assert.equal(lstatSync(fx.privateDir).mode & 0o777, 0o700)
      const ran = spawnSync(suid.path, [], { uid: user.uid, gid: user.gid, encoding: 'utf8' })
      assert.equal((ran.error as NodeJS.ErrnoException | undefined)?.code, 'EACCES')
      // Root itself may run it: it takes no arguments and only prints the ids exec gave it.
      assert.match(
        spawnSync(suid.path, ['--caps', 'setuid=/bin/sh'], { encoding: 'utf8' }).stdout,
        /^[0-9a-f]+ 0 0 0 0\n$/,
      )
      suid.remove()
      fx.close()
      assert.ok(!existsSync(fx.privateDir))
    })

    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      test(`${signal} in the middle of the battery removes the fixtures and ends verify by the signal`, async () => {
        const { child, done } = await verifyHeldMidBattery(['--probe', 'setuid-plant', '--probe', 'memory'])
        assert.equal(fixtureDirs(child.pid!).length, 1)
        child.kill(signal)
        child.kill('SIGCONT')
        const ended = await done
        assert.equal(ended.signal, signal)
        assert.deepEqual(fixtureDirs(child.pid!), [])
      })

    test('SIGKILL leaves the private directory, and the next verify sweeps it', async () => {
      const { child, done } = await verifyHeldMidBattery(['--probe', 'setuid-plant', '--probe', 'memory'])
      child.kill('SIGKILL')
      await done
      const left = fixtureDirs(child.pid!)
      assert.equal(left.length, 1, 'nothing runs on SIGKILL: the directory stays (0700)')
      assert.equal(lstatSync(join(TMP, left[0]!)).mode & 0o777, 0o700)
      const next = spawnSync(process.execPath, [CLI, 'verify', '--json', '--probe', 'mount'], {
        cwd: projectDir(),
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        timeout: 60_000,
      })
      assert.equal(next.status, 0, String(next.stderr))
      assert.deepEqual(fixtureDirs(child.pid!), [])
    })

    test('the sweep removes only our dead runs’ directories, owned by the caller, never through a symlink', (t) => {
      const user = ensureTestUser()
      const base = mkdtempSync(join(TMP, 'cordon-sweep-'))
      t.after(() => rmSync(base, { recursive: true, force: true }))
      const dead = 2 ** 22 + 17 // above pid_max's default: no such process
      const make = (name: string) => {
        const d = join(base, name)
        mkdirSync(d, { mode: 0o700 })
        writeFileSync(join(d, 'f'), 'x')
        return d
      }
      const stale = make(`cordon-verify-fixture-${dead}-aB3dE9`)
      const live = make('cordon-verify-fixture-1-aB3dE9') // pid 1 runs
      const foreign = make(`cordon-verify-fixture-${dead}-zzzzzz`)
      chownSync(foreign, user.uid, user.gid)
      const other = make(`cordon-verify-${dead}-aB3dE9`)
      const victim = make('victim')
      symlinkSync(victim, join(base, `cordon-verify-fixture-${dead}-link00`))
      assert.deepEqual(sweepStale(base), [stale])
      assert.ok(!existsSync(stale))
      for (const kept of [
        live,
        foreign,
        other,
        join(victim, 'f'),
        join(base, `cordon-verify-fixture-${dead}-link00`),
      ])
        assert.ok(existsSync(kept) || lstatSync(kept, { throwIfNoEntry: false }), kept)
    })
  },
)
