// cordon's host-side state is its caller's alone (issue 17, points 3 and 4): a state directory
// another user made first is refused, a forged or stale registry record redirects no signal,
// event sockets are only taken from the checked state directory, and the supervisor resolves a
// sandbox's paths inside the sandbox, never on the host.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn as spawnChild, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { bootId, processExists, processInfo } from '../../src/host/process.js'
import { eventSocket, type SandboxRecord } from '../../src/run/registry.js'
import { controlSandbox } from '../../src/run/sandbox-control.js'
import { spawn } from '../../src/run/spawn.js'
import { CLI, cordonAs, isRoot, projectDir, runSettled as run } from '../helpers.js'

const NOBODY = 65534
/** A uid of no one on this host (the reproduction used 4242), one per test process. */
const user = { uid: 54000 + (process.pid % 1000), gid: 54000 + (process.pid % 1000) }
const home = `/tmp/cordon-${user.uid}`
const asUser = (args: string[]) => cordonAs(user, args, projectFor())

function projectFor(): string {
  const dir = join(tmpdir(), `cordon-hs-project-${process.pid}`)
  // Removed when the file's process exits, as helpers.ts projectDir.
  if (!existsSync(dir)) process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  chmodSync(dir, 0o755)
  return dir
}

/** A process of the user's that is not a sandbox: what a forged record points at. */
function victim(t: TestContext): ChildProcess {
  const p = spawnChild('sleep', ['120'], { uid: user.uid, gid: user.gid, stdio: 'ignore' })
  t.after(() => p.kill('SIGKILL'))
  return p
}

/** A record as main wrote it (version 1) with the fields this branch adds, so that only the
 * checks under test can refuse it. */
function forgedRecord(id: string, pid: number): Record<string, unknown> {
  return {
    version: 2,
    id,
    pid,
    startTime: processInfo(pid)!.startTime,
    bootId: bootId(),
    command: ['sleep', '120'],
    startedAt: new Date().toISOString(),
  }
}

function plant(dir: string, id: string, record: Record<string, unknown>, owner: number): string {
  const file = join(dir, `${id}.json`)
  writeFileSync(file, JSON.stringify(record), { mode: 0o600 })
  chownSync(file, owner, owner)
  return file
}

const fresh = (t: TestContext) => {
  rmSync(home, { recursive: true, force: true })
  t.after(() => rmSync(home, { recursive: true, force: true }))
}

describe('state directories', { skip: isRoot ? false : 'needs root to act as two users' }, () => {
  test('a state directory another user made first is refused, and cordon kill signals nothing', async (t) => {
    fresh(t)
    // The reproduction: nobody makes /tmp/cordon-UID (mode 777) and plants a record for a
    // process of the caller's that is no sandbox.
    mkdirSync(join(home, 'cordon'), { recursive: true })
    for (const d of [home, join(home, 'cordon')]) {
      chmodSync(d, 0o777)
      chownSync(d, NOBODY, NOBODY)
    }
    const p = victim(t)
    await sleep(100)
    plant(join(home, 'cordon'), 'deadbeef', forgedRecord('deadbeef', p.pid!), user.uid)
    const r = asUser(['kill', 'deadbeef'])
    assert.equal(r.status, 125, r.stderr)
    assert.match(r.stderr, new RegExp(`${home} is unsafe: owned by uid ${NOBODY}`))
    assert.match(r.stderr, new RegExp(`set XDG_RUNTIME_DIR .*or remove ${home}`))
    await sleep(200)
    assert.ok(processExists(p.pid!) && p.exitCode === null && p.signalCode === null, 'the victim was killed')
    for (const args of [['ps'], ['run', '--', 'true']]) {
      const other = asUser(args)
      assert.equal(other.status, 125, `${args.join(' ')}: ${other.stderr}`)
      assert.match(other.stderr, /is unsafe: owned by uid 65534/)
    }
  })

  const cases: { name: string; setup: () => void; want: RegExp }[] = [
    {
      name: 'a symlink to a directory of the caller’s',
      setup: () => {
        const real = `${home}-real`
        mkdirSync(real, { mode: 0o700 })
        chownSync(real, user.uid, user.gid)
        symlinkSync(real, home)
      },
      want: /is unsafe: a symlink or not a directory/,
    },
    {
      name: 'the caller’s own, but writable by its group',
      setup: () => {
        mkdirSync(home, { mode: 0o770 })
        chmodSync(home, 0o770)
        chownSync(home, user.uid, user.gid)
      },
      want: /is unsafe: writable by others \(mode 770\)/,
    },
    {
      name: 'a plain file in its place',
      setup: () => writeFileSync(home, ''),
      want: /is unsafe: a symlink or not a directory/,
    },
  ]
  for (const c of cases)
    test(`refuses ${c.name}`, (t) => {
      fresh(t)
      t.after(() => rmSync(`${home}-real`, { recursive: true, force: true }))
      c.setup()
      const r = asUser(['ps'])
      assert.equal(r.status, 125, r.stderr)
      assert.match(r.stderr, c.want)
      assert.ok(r.stderr.includes(home), r.stderr)
    })

  test('makes its directories 0700, owned by the caller', (t) => {
    fresh(t)
    const r = asUser(['ps'])
    assert.equal(r.status, 0, r.stderr)
    for (const d of [home, join(home, 'cordon')]) {
      const st = statSync(d)
      assert.equal(st.uid, user.uid)
      assert.equal(st.mode & 0o7777, 0o700, d)
    }
  })
})

describe('registry records', { skip: isRoot ? false : 'needs root to act as two users' }, () => {
  test('cordon kill refuses a forged record naming a process that is no cordon launcher', async (t) => {
    fresh(t)
    mkdirSync(join(home, 'cordon'), { recursive: true, mode: 0o700 }) // the caller's own, private
    for (const d of [home, join(home, 'cordon')]) chownSync(d, user.uid, user.gid)
    const p = victim(t)
    await sleep(100)
    plant(join(home, 'cordon'), 'deadbeef', forgedRecord('deadbeef', p.pid!), user.uid)
    const ps = asUser(['ps', '--json'])
    assert.equal(ps.status, 0, ps.stderr)
    assert.deepEqual((JSON.parse(ps.stdout) as { sandboxes: unknown[] }).sandboxes, [])
    const r = asUser(['kill', 'deadbeef'])
    assert.notEqual(r.status, 0)
    await sleep(200)
    assert.ok(p.exitCode === null && p.signalCode === null, 'the unrelated process was killed')
  })

  test('a stale record whose pid now names another launcher is dropped, and signals nothing', async (t) => {
    fresh(t)
    const sandbox = spawnChild(process.execPath, [CLI, 'run', '--', 'sleep', '120'], {
      uid: user.uid,
      gid: user.gid,
      cwd: projectFor(),
      env: { PATH: process.env.PATH, HOME: '/nonexistent', NODE_EXTRA_CA_CERTS: '' },
      stdio: 'ignore',
    })
    t.after(() => sandbox.kill('SIGKILL'))
    let live: SandboxRecord | undefined
    for (let i = 0; i < 100 && !live; i++) {
      await sleep(100)
      const ps = asUser(['ps', '--json'])
      live = (JSON.parse(ps.stdout || '{"sandboxes":[]}') as { sandboxes: SandboxRecord[] }).sandboxes[0]
    }
    assert.ok(live, 'the sandbox never registered')
    assert.equal(typeof live.startTime, 'number')
    // What its record would say had an earlier launcher held the same pid.
    const stale = plant(
      join(home, 'cordon'),
      'feedf00d',
      { ...live, id: 'feedf00d', startTime: live.startTime - 1 },
      user.uid,
    )
    const r = asUser(['kill', 'feedf00d'])
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /no running sandbox with id feedf00d/)
    assert.ok(!existsSync(stale), 'the stale record was kept')
    await sleep(300)
    assert.equal(sandbox.exitCode, null, 'the other sandbox was killed')
    // The live record still works.
    const ok = asUser(['kill', live.id])
    assert.equal(ok.status, 0, ok.stderr)
    const [code] = await Promise.race([
      new Promise<[number | null]>((resolve) => sandbox.once('exit', (c) => resolve([c]))),
      sleep(10_000).then((): [string] => ['timeout']),
    ])
    assert.notEqual(code, 'timeout')
  })
})

describe(
  'what killed supervisors leave',
  { skip: isRoot ? false : 'needs root to act as another user' },
  () => {
    test('cordon ps drops a stale record with its socket at once, and a record cut before its rename', (t) => {
      fresh(t)
      assert.equal(asUser(['ps']).status, 0) // makes the user's state directory
      const dir = join(home, 'cordon')
      // A launcher that has ended: a pid no process has, as a SIGKILLed supervisor left it.
      const ended = spawnSync('true')
      const record = { ...forgedRecord('ab12cd34', process.pid), pid: ended.pid, startTime: 1 }
      plant(dir, 'ab12cd34', record, user.uid)
      const sock = join(dir, 'ab12cd34.sock')
      const partial = join(dir, '.ab12cd34.0f1e2d3c')
      const young = join(dir, '.ee11ff22.00aa11bb') // a writer at work now
      for (const f of [sock, partial, young]) {
        writeFileSync(f, '', { mode: 0o600 })
        chownSync(f, user.uid, user.uid)
      }
      const minuteAgo = new Date(Date.now() - 60_000)
      utimesSync(partial, minuteAgo, minuteAgo)
      const r = asUser(['ps', '--json'])
      assert.equal(r.status, 0, r.stderr)
      assert.deepEqual((JSON.parse(r.stdout) as { sandboxes: unknown[] }).sandboxes, [])
      for (const f of [join(dir, 'ab12cd34.json'), sock, partial]) assert.ok(!existsSync(f), `${f} left`)
      assert.ok(existsSync(young), 'a record being written now is left to its writer')
    })
  },
)

describe(
  'record checks in-process',
  { skip: isRoot ? false : 'needs root for /run/cordon and cgroups' },
  () => {
    test('a record whose cgroup is not its launcher’s, or whose launcher ended, gets no action', async (t) => {
      const p = spawn({ extends: ['default'], limits: { pids: 20 } }, 'sleep', ['30'], {
        stdio: 'ignore',
        context: { cwd: projectDir() },
      })
      t.after(() => p.kill('SIGKILL'))
      await sleep(200)
      const record = JSON.parse(readFileSync(`/run/cordon/${p.id}.json`, 'utf8')) as SandboxRecord
      assert.ok(controlSandbox(record).cgroup, 'its own cgroup is accepted')
      // The same launcher with another group's directory (what a forged record would name).
      const dirs = Object.fromEntries(
        Object.entries(record.cgroup!.dirs).map(([k, d]) => [k, d.replace(/run-\d+-/, 'run-1-')]),
      )
      assert.throws(
        () => controlSandbox({ ...record, cgroup: { ...record.cgroup!, dirs } }),
        /its cgroup .* is not one/,
      )
      const control = controlSandbox(record)
      p.kill('SIGKILL')
      await p.exited
      // A monitor still holding the record: the launcher's pid may be anyone's now.
      assert.throws(() => control.kill('SIGKILL'), /has ended \(the record is stale\)/)
    })
  },
)

describe('event sockets', { skip: isRoot ? false : 'needs root for /run/cordon' }, () => {
  test('the socket and record are private, and clients take the socket only from the state dir', async (t) => {
    const p = spawn({ extends: ['default'] }, 'sleep', ['30'], {
      publish: true,
      stdio: 'ignore',
      context: { cwd: projectDir() },
    })
    t.after(() => p.kill('SIGKILL'))
    const record = JSON.parse(readFileSync(`/run/cordon/${p.id}.json`, 'utf8')) as SandboxRecord
    await sleep(200)
    assert.equal(statSync('/run/cordon').mode & 0o7777, 0o700)
    assert.equal(statSync(`/run/cordon/${p.id}.json`).mode & 0o777, 0o600)
    assert.equal(statSync(record.events!).mode & 0o777, 0o600)
    assert.equal(eventSocket(record), `/run/cordon/${p.id}.sock`)
    // A socket anywhere else, e.g. one another user listens on, is not connected to.
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'cordon-hs-')), 'x.sock')
    const server = createServer().listen(elsewhere)
    t.after(() => {
      server.close()
      rmSync(join(elsewhere, '..'), { recursive: true, force: true })
    })
    assert.equal(eventSocket({ ...record, events: elsewhere }), undefined)
    chownSync(record.events!, NOBODY, NOBODY)
    assert.equal(eventSocket(record), undefined, 'a socket of another user was accepted')
  })
})

describe('sandbox paths', () => {
  test('a relative exec through a planted symlink reveals nothing about the host file', async (t) => {
    // A host file in a 0700 directory the sandbox cannot see.
    const secret = mkdtempSync(join(tmpdir(), 'cordon-secret-'))
    t.after(() => rmSync(secret, { recursive: true, force: true }))
    writeFileSync(join(secret, 'f'), '#!/bin/sh\n', { mode: 0o755 })
    const r = await run(
      { extends: ['default'], filesystem: [{ tmpfs: { dest: '/tmp', exec: true } }] },
      'sh',
      ['-c', `cd /tmp && ln -s ${secret}/f link && ./link; cp /bin/true mine && ./mine && echo ok`],
      { watch: ['execve'], context: { cwd: projectDir() } },
    )
    assert.equal(r.stdout, 'ok\n', r.stderr)
    const execs = r.events.filter(
      (e): e is Extract<typeof e, { event: 'syscall' }> => e.event === 'syscall' && e.syscall === 'execve',
    )
    const link = execs.find((e) => e.path === './link')
    assert.ok(link, execs.map((e) => e.path).join(' '))
    assert.equal(link.ctimeMs, undefined, `the host file's ctime leaked: ${link.ctimeMs}`)
    // A relative path to a file that is inside still gets its ctime, looked up in the sandbox.
    const mine = execs.find((e) => e.path === './mine')
    assert.ok(mine?.ctimeMs !== undefined && mine.ctimeMs > Date.now() - 60_000, String(mine?.ctimeMs))
  })
})
