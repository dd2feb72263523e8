// A root caller's sandbox runs as an unprivileged host id range (issue 17): it is uid 0 inside,
// writes its writable binds through idmapped mounts as the host's owners, and holds none of host
// root's file permissions unless the policy says `user.hostRoot`.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parseSubidFile, DEFAULT_RANGE_START } from '../../src/host/id-range.js'
import { callerContext, compilePlan, type Policy, resolvePolicy } from '../../src/index.js'
import { cordon, isRoot } from '../helpers.js'

describe('the host id range', () => {
  test('/etc/subuid: cordon first, then root; ranges holding host root are ignored', () => {
    const text = 'alice:100000:65536\nroot:0:65536\nroot:200000:65536\ncordon:300000:1000\n'
    assert.deepEqual(parseSubidFile(text, ['cordon', 'root']), { name: 'cordon', start: 300000, count: 1000 })
    assert.deepEqual(parseSubidFile(text, ['root']), { name: 'root', start: 200000, count: 65536 })
    assert.equal(parseSubidFile('garbage\nroot:x:1\n', ['root']), undefined)
  })

  const ranges = {
    uid: { start: 500000, count: 65536, source: 'test' },
    gid: { start: 600000, count: 65536, source: 'test' },
  }
  const maps = (policy: Policy, uid: number) => {
    const plan = compilePlan(resolvePolicy({ policy, baseDir: '/tmp', label: 'test' }, '/tmp'), {
      ...callerContext(),
      uid,
      gid: uid,
      idRanges: ranges,
    })
    return {
      maps: plan.ops.filter((o) => o.op === 'uid_map' || o.op === 'gid_map'),
      ids: plan.ops.find((o) => o.op === 'ids'),
      binds: plan.ops.filter((o) => o.op === 'bind' && !o.flags.readOnly && !o.flags.dev),
      notes: plan.notes,
    }
  }

  test('root is remapped to the range, its writable binds idmapped', () => {
    const { maps: m, binds } = maps({ filesystem: [{ rw: '/tmp' }] }, 0)
    assert.deepEqual(m, [
      { op: 'uid_map', inside: 0, outside: 500000, count: 65536 },
      { op: 'gid_map', inside: 0, outside: 600000, count: 65536 },
    ])
    assert.ok(binds.length > 0 && binds.every((b) => b.op === 'bind' && b.flags.idmap))
  })

  test('user.hostRoot keeps the caller mapping and says HOST ROOT', () => {
    const { maps: m, binds, notes } = maps({ user: { hostRoot: true }, filesystem: [{ rw: '/tmp' }] }, 0)
    assert.deepEqual(m[0], { op: 'uid_map', inside: 0, outside: 'caller', count: 1 })
    assert.ok(binds.every((b) => b.op === 'bind' && !b.flags.idmap))
    assert.ok(notes.some((n) => n.includes('HOST ROOT')))
  })

  test('other callers keep their own uid', () => {
    const { maps: m, binds } = maps({ filesystem: [{ rw: '/tmp' }] }, 1000)
    assert.deepEqual(m[0], { op: 'uid_map', inside: 1000, outside: 'caller', count: 1 })
    assert.ok(binds.every((b) => b.op === 'bind' && !b.flags.idmap))
  })

  test('without a user namespace, root switches to the range', () => {
    const { ids } = maps({ namespaces: { user: false, mount: false, pid: false } }, 0)
    assert.deepEqual(ids, { op: 'ids', uid: 500000, gid: 600000, setgroups: true })
  })

  test('an inside id outside the range is refused with the fix', () => {
    assert.throws(() => maps({ user: { uid: 70000 } }, 0), /outside the 65536 ids.*hostRoot: true/)
  })

  test('SETFCAP with a writable bind is refused: its file capabilities would hold on the host', () => {
    const policy: Policy = { capabilities: ['setfcap'], filesystem: [{ rw: '/tmp' }] }
    assert.throws(() => maps(policy, 0), /keeps SETFCAP.*hostRoot: true/)
    assert.doesNotThrow(() => maps(policy, 1000))
  })

  test("cordon's default range is the top of systemd's container block", () => {
    assert.equal(DEFAULT_RANGE_START + 65536, 1879048192)
  })
})

describe('a root caller on the real kernel', { skip: isRoot ? false : 'needs root' }, () => {
  const project = `/tmp/cordon-identity-${process.pid}`
  before(() => {
    mkdirSync(project, { recursive: true })
    chmodSync(project, 0o755)
    writeFileSync(join(project, 'secret.key'), 'root only\n', { mode: 0o600 })
  })
  after(() => rmSync(project, { recursive: true, force: true }))
  const run = (args: string[]) => cordon(args, { cwd: project })

  test('is uid 0 inside, an unprivileged range outside', () => {
    const r = run(['run', '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map; grep ^Groups /proc/self/status'])
    assert.equal(r.status, 0, r.stderr)
    const [id, map, groups] = r.stdout.trim().split('\n')
    assert.equal(id, '0')
    const [inside, outside, count] = map!.trim().split(/\s+/).map(Number)
    assert.equal(inside, 0)
    assert.ok(outside! > 65535, `outside ${outside}`)
    assert.equal(count, 65536)
    assert.match(groups!, /^Groups:\s*$/) // none of the caller's supplementary groups
  })

  test('cannot read root-only host files', () => {
    const r = run(['run', '--', 'sh', '-c', 'cat /etc/gshadow 2>/dev/null; cat secret.key'])
    assert.notEqual(r.status, 0)
    assert.doesNotMatch(r.stdout, /root only/)
    assert.match(r.stderr, /secret\.key: Permission denied/)
  })

  test('--rw writes work and stay owned by the host caller', () => {
    const r = run([
      'run',
      '--rw',
      '.',
      '--',
      'sh',
      '-c',
      'echo hi > made.txt && mkdir d && stat -c %u:%g made.txt',
    ])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), '0:0')
    assert.equal(statSync(join(project, 'made.txt')).uid, 0)
    assert.equal(statSync(join(project, 'd')).uid, 0)
  })

  test('--uid 1000 writes as uid 1000 on the host', () => {
    chmodSync(project, 0o777)
    const r = run([
      'run',
      '--uid',
      '1000',
      '--gid',
      '1000',
      '--rw',
      '.',
      '--',
      'sh',
      '-c',
      'id -u; echo x > u1000.txt',
    ])
    chmodSync(project, 0o755)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), '1000')
    assert.equal(statSync(join(project, 'u1000.txt')).uid, 1000)
  })

  test('--host-root is the one opt-out, and every run says so', () => {
    const r = run(['run', '--host-root', '--', 'sh', '-c', 'cat secret.key; cat /proc/self/uid_map'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /root only/)
    assert.match(r.stdout, /^\s*0\s+0\s+1$/m)
    assert.match(r.stderr, /HOST ROOT: user.hostRoot gives the sandbox host root/)
  })

  test('runc: a container without writable binds runs as the range too', (t) => {
    if (spawnSync('runc', ['--version']).status !== 0) return t.skip('runc is not installed')
    const r = run([
      'run',
      '--backend',
      'runc',
      '--',
      'sh',
      '-c',
      'id -u; cat /proc/self/uid_map; cat secret.key',
    ])
    assert.notEqual(r.status, 0)
    const [id, map] = r.stdout.trim().split('\n')
    assert.equal(id, '0')
    assert.ok(Number(map!.trim().split(/\s+/)[1]) > 65535, map)
    assert.doesNotMatch(r.stdout, /root only/)
    assert.doesNotMatch(r.stderr, /runs a root caller's container as host root/)
    const rw = run(['run', '--backend', 'runc', '--rw', '.', '--', 'cat', 'secret.key'])
    assert.match(rw.stdout, /root only/) // runc 1.1 has no idmapped mounts: said, not hidden
    assert.match(rw.stderr, /runc runs a root caller's container as host root when it has writable binds/)
  })

  test('cordon plan reports the statement', () => {
    const r = run(['plan', '--json'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /no host root powers/)
  })
})
