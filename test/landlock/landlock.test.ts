// Landlock on the real kernel. Most cases run without namespaces, so Landlock (with seccomp and
// no_new_privs) is the only layer and what passes or fails is Landlock's doing.
import assert from 'node:assert/strict'
import { spawn as spawnChild } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import {
  callerContext,
  compilePlan,
  encodePlan,
  type Policy,
  resolvePolicy,
  run,
  NO_NAMESPACES,
} from '../../src/index.js'
import { statementStatus } from '../../src/status/statements.js'
import { MAX_ABI } from '../../src/landlock/rights.js'
import { LAUNCHER, projectDir } from '../helpers.js'

const root = () => join(projectDir(), 'll')
const dir = (name: string) => join(root(), name)

/** Runs python3 code under policy (Landlock capped at abi) and returns its stdout lines. */
async function py(policy: Policy, code: string, abi = 7): Promise<string[]> {
  const resolved = resolvePolicy({ policy, baseDir: projectDir(), label: 'test' }, projectDir())
  const plan = compilePlan(resolved, { ...callerContext(), cwd: projectDir(), landlockAbi: abi })
  const r = await run(plan, 'python3', ['-c', code])
  assert.equal(r.code, 0, r.stderr)
  return r.stdout.trim().split('\n')
}

const TRY = `
import errno, os, socket, sys
def t(name, f):
    try:
        f(); print(name, 'ok')
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
`

/** Landlock-only sandbox: system dirs rx, `ro` read-only, `rw` read-write, nothing else. */
function fsPolicy(extra: Partial<Policy> = {}): Policy {
  return {
    namespaces: NO_NAMESPACES,
    network: 'host',
    // No mount namespace: no layer guards pathname UNIX sockets, and Landlock is what is tested.
    acknowledge: ['no-view'],
    // Landlock alone is under test, for a caller as strong as it gets: root keeps root here.
    user: { hostRoot: true },
    filesystem: [
      { ro: { src: '/usr', optional: true } },
      { ro: { src: '/lib', optional: true } },
      { ro: { src: '/lib64', optional: true } },
      { ro: { src: '/bin', optional: true } },
      { ro: { src: '/etc' } },
      { ro: { src: '/dev/null' } },
      { ro: { src: '/proc' } },
      { ro: { src: dir('ro'), access: 'ro' } },
      { rw: dir('rw') },
      { rw: { src: dir('rw2'), access: ['read', 'readdir', 'write', 'create', 'delete', 'refer'] } },
    ],
    ...extra,
  }
}

describe('Landlock on the real kernel', () => {
  const servers: Server[] = []
  const ports: number[] = []
  before(async () => {
    for (const d of ['ro', 'rw', 'rw2', 'outside']) mkdirSync(dir(d), { recursive: true })
    for (const d of ['ro', 'rw', 'rw2', 'outside']) writeFileSync(join(dir(d), 'f'), 'data')
    copyFileSync('/bin/true', join(dir('ro'), 'prog'))
    chmodSync(join(dir('ro'), 'prog'), 0o755)
    for (let i = 0; i < 2; i++) {
      const server = createServer((s) => s.end())
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      servers.push(server)
      ports.push((server.address() as { port: number }).port)
    }
  })
  after(() => {
    for (const s of servers) s.close()
  })

  test('reads inside allowed trees work, outside they fail EACCES', async () => {
    const out = await py(
      fsPolicy(),
      `${TRY}
t('read ro', lambda: open('${dir('ro')}/f').read())
t('read outside', lambda: open('${dir('outside')}/f').read())
t('list outside', lambda: os.listdir('${dir('outside')}'))
t('read home', lambda: os.listdir('/root'))`,
    )
    assert.deepEqual(out, ['read ro ok', 'read outside EACCES', 'list outside EACCES', 'read home EACCES'])
  })

  test('writes only in the write trees; execute only where granted', async () => {
    const out = await py(
      fsPolicy(),
      `${TRY}
t('write ro', lambda: open('${dir('ro')}/f', 'w'))
t('write rw', lambda: open('${dir('rw')}/g', 'w').write('x'))
t('create in rw2', lambda: open('${dir('rw2')}/n', 'w').write('x'))
t('delete in rw', lambda: os.unlink('${dir('rw')}/g'))
t('exec in ro (no execute)', lambda: os.execv('${dir('ro')}/prog', ['prog']))`,
    )
    assert.deepEqual(out, [
      'write ro EACCES',
      'write rw ok',
      'create in rw2 ok',
      'delete in rw ok',
      'exec in ro (no execute) EACCES',
    ])
  })

  test('renames across directories follow refer and the target rights', async () => {
    writeFileSync(join(dir('rw'), 'm'), 'x')
    const out = await py(
      fsPolicy(),
      `${TRY}
t('rw to rw2', lambda: os.rename('${dir('rw')}/m', '${dir('rw2')}/m'))
t('rw2 to ro', lambda: os.rename('${dir('rw2')}/m', '${dir('ro')}/m'))`,
    )
    assert.deepEqual(out, ['rw to rw2 ok', 'rw2 to ro EACCES'])
  })

  test('TCP: only the allowed ports connect and bind; UDP and raw sockets are refused', async () => {
    const [allowed, other] = ports
    const out = await py(
      fsPolicy({ tcp: { connect: [allowed!], bind: [41234] } }),
      `${TRY}
t('connect allowed', lambda: socket.create_connection(('127.0.0.1', ${allowed})))
t('connect other', lambda: socket.create_connection(('127.0.0.1', ${other})))
t('bind allowed', lambda: socket.socket().bind(('127.0.0.1', 41234)))
t('bind other', lambda: socket.socket().bind(('127.0.0.1', 41235)))
t('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
t('sctp', lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132))`,
    )
    assert.deepEqual(out, [
      'connect allowed ok',
      'connect other EACCES',
      'bind allowed ok',
      'bind other EACCES',
      'udp EACCES',
      'sctp EACCES',
    ])
  })

  test('scopes: a host abstract UNIX socket is unreachable and host processes cannot be signalled', async () => {
    const name = `cordon-test-${process.pid}`
    // A listener on the host's abstract namespace (python: node pads abstract names).
    const server = spawnChild('python3', [
      '-c',
      `import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind('\\0${name}')\ns.listen()\nprint('up',flush=True)\ntime.sleep(30)`,
    ])
    await new Promise((resolve) => server.stdout.once('data', resolve))
    const sleeper = spawnChild('sleep', ['30'])
    try {
      const code = `${TRY}
s = socket.socket(socket.AF_UNIX)
t('abstract', lambda: s.connect('\\0${name}'))
t('signal', lambda: os.kill(${sleeper.pid}, 0))`
      assert.deepEqual(await py(fsPolicy(), code), ['abstract EPERM', 'signal EPERM'])
      const unscoped = await py(fsPolicy({ landlock: { scopes: [] } }), code)
      assert.deepEqual(unscoped, ['abstract ok', 'signal ok'])
    } finally {
      sleeper.kill()
      server.kill()
    }
  })

  for (let abi = 1; abi <= MAX_ABI; abi++)
    test(`forced to ABI ${abi}: the rights of that ABI are enforced and the status says so`, async () => {
      const [allowed, other] = ports
      writeFileSync(join(dir('rw2'), 'trunc'), 'data')
      const sleeper = spawnChild('sleep', ['30'])
      try {
        const policy = fsPolicy({ tcp: { connect: [allowed!], bind: [] } })
        const out = await py(
          policy,
          `${TRY}
t('read outside', lambda: open('${dir('outside')}/f').read())
t('truncate', lambda: os.truncate('${dir('rw2')}/trunc', 0))
t('connect other', lambda: socket.create_connection(('127.0.0.1', ${other})))
t('signal', lambda: os.kill(${sleeper.pid}, 0))`,
          abi,
        )
        assert.deepEqual(out, [
          'read outside EACCES',
          `truncate ${abi >= 3 ? 'EACCES' : 'ok'}`,
          `connect other ${abi >= 4 ? 'EACCES' : 'ok'}`,
          `signal ${abi >= 6 ? 'EPERM' : 'ok'}`,
        ])
        const resolved = resolvePolicy({ policy, baseDir: projectDir(), label: 'test' }, projectDir())
        const status = Object.fromEntries(
          statementStatus(resolved, abi).map((s) => [s.statement.split(' ')[0], s.status]),
        )
        assert.equal(status.tcp, abi >= 4 ? 'full' : 'none') // seccomp alone judges no port
        assert.equal(status.scope, abi >= 6 ? 'partial' : 'none') // no namespaces: Landlock is the only layer left
      } finally {
        sleeper.kill()
      }
    })

  test('with namespaces too, Landlock narrows what the mount view allows', async () => {
    const out = await py(
      { extends: ['default'], filesystem: [{ tmpfs: { dest: '/scratch', access: 'ro' } }] },
      `${TRY}
t('write scratch', lambda: open('/scratch/x', 'w'))
t('write tmp', lambda: open('/tmp/x', 'w'))
t('shadow', lambda: open('/etc/shadow').read())`,
    )
    assert.deepEqual(out, ['write scratch EACCES', 'write tmp ok', 'shadow EACCES'])
  })

  test('nesting: cordon-exec inside a sandbox adds a layer that can only narrow', async () => {
    const inner = compilePlan(
      resolvePolicy({ policy: fsPolicy(), baseDir: projectDir(), label: 'inner' }, projectDir()),
      { ...callerContext(), cwd: projectDir() },
    )
    const planFile = join(projectDir(), 'inner.plan')
    writeFileSync(planFile, encodePlan(inner))
    const outer: Policy = { extends: ['default'], filesystem: [{ ro: dirname(LAUNCHER) }] }
    const attempt = (file: string) =>
      run(outer, LAUNCHER, [planFile, '--', 'cat', file], { context: { cwd: projectDir() }, reject: false })
    const allowed = await attempt(join(dir('ro'), 'f'))
    assert.equal(allowed.code, 0, allowed.stderr)
    assert.equal(allowed.stdout, 'data')
    const narrowed = await attempt(join(dir('outside'), 'f')) // the outer sandbox shows it; the inner layer does not
    assert.equal(narrowed.code, 1)
    assert.match(narrowed.stderr, /Permission denied/)
  })
})
