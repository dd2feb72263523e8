// A learned policy runs what it was learned from (helper-140): a TCP program that also listens on
// a UNIX socket, or opens a TCP connection with fast open, got a tcp section that refuses those
// (listen() without a bind port, MSG_FASTOPEN, TCP_FASTOPEN_CONNECT); a program run from a base's
// tmpfs that a landlock path makes executable was refused by the learned policy, which dropped
// the grant.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { cordon, isRoot, projectDir } from '../helpers.js'

/** Learns `command` with `base` flags into NAME.yaml, then runs that policy: both outputs. */
function learnThenRun(name: string, base: string[], command: string[]) {
  const out = `${projectDir()}/${name}.yaml`
  const learned = cordon(['learn', '-q', ...base, '-o', out, '--', ...command], { timeout: 120_000 })
  assert.equal(learned.status, 0, learned.stderr)
  const again = cordon(['run', '-q', '-p', out])
  return { learned, again, policy: readFileSync(out, 'utf8') }
}

describe('a learned policy refuses what it was not learned from, and says where to look', () => {
  // helper-148: `touch` under a policy learned from `ls` said only "Operation not permitted";
  // --audit names the refused calls, and the run now points there. Not for a failure under the
  // default profile, which refuses only what it names.
  test('its run names --audit after a failure; the default profile’s does not', () => {
    const { learned, policy } = learnThenRun('ls-only', [], ['ls'])
    assert.equal(learned.status, 0, learned.stderr)
    assert.match(policy, /default: errno\(EPERM\)/)
    const out = `${projectDir()}/ls-only.yaml`
    const hint = /hint: if it said "Operation not permitted".*run it again with `--audit`/
    const refused = cordon(['run', '-p', out, '--rw', '.', '--', 'touch', 'made'])
    assert.notEqual(refused.status, 0)
    assert.match(refused.stderr, hint)
    const plain = cordon(['run', '--', 'ls', '/nonexistent'])
    assert.equal(plain.status, 2)
    assert.doesNotMatch(plain.stderr, /hint/)
  })
})

describe('a learned policy runs what it was learned from', () => {
  test('TCP with a UNIX listener, and with fast open: no tcp section that refuses them', () => {
    const listens =
      'import socket\nt = socket.socket()\nu = socket.socket(socket.AF_UNIX)\nu.bind("\\0cordon-learned-runs")\nu.listen()\nprint("ok")'
    const a = learnThenRun('listens', [], ['python3', '-c', listens])
    assert.equal(a.again.status, 0, a.again.stderr)
    assert.equal(a.again.stdout, 'ok\n')
    assert.match(a.policy, /no tcp: section: the run listened without binding a TCP port/)
    const fastOpen =
      'import socket\ns = socket.socket()\ns.setsockopt(socket.IPPROTO_TCP, 30, 1)\nprint("ok")'
    const b = learnThenRun('fastopen', [], ['python3', '-c', fastOpen])
    assert.equal(b.again.status, 0, b.again.stderr)
    assert.match(b.policy, /no tcp: section: the run used TCP fast open/)
    // TCP alone still gets its section.
    const c = learnThenRun('tcponly', [], ['python3', '-c', 'import socket\nsocket.socket()\nprint("ok")'])
    assert.equal(c.again.status, 0, c.again.stderr)
    assert.match(c.policy, /^tcp: {2}# only TCP sockets were used/m)
  })

  test(
    "a base's landlock path granting execute in its tmpfs is carried",
    { skip: !isRoot && 'makes /srv/cordon-learned-runs' },
    (t) => {
      const cache = '/srv/cordon-learned-runs'
      mkdirSync(cache, { recursive: true })
      t.after(() => rmSync(cache, { recursive: true, force: true }))
      const base = `${projectDir()}/exec-base.yaml`
      writeFileSync(
        base,
        [
          'extends: [default]',
          'filesystem:',
          `  - tmpfs: { dest: ${cache}, access: [read, readdir, write, create, delete, truncate] }`,
          'landlock:',
          '  paths:',
          `    - { path: ${cache}, access: [read, readdir, execute] }`,
          '',
        ].join('\n'),
      )
      const r = learnThenRun(
        'exec-learned',
        ['-p', base],
        ['sh', '-c', `cp /bin/true ${cache}/t && ${cache}/t && echo RAN`],
      )
      assert.equal(r.again.status, 0, r.again.stderr)
      assert.equal(r.again.stdout, 'RAN\n')
      assert.match(r.policy, /paths: {2}# the base's grants of execute/)
    },
  )
})
