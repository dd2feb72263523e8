// The sandbox's hostname in its /etc/hosts (plan/sandbox-hosts.ts): the default profile names the
// sandbox `cordon`, which the host's /etc/hosts does not, so the sandbox could not resolve its
// own name (getent, Java's getLocalHost, Python's gethostbyname(gethostname())).
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { ViewEntry } from '../../src/policy/resolve.js'
import { sandboxHosts } from '../../src/plan/sandbox-hosts.js'
import type { HostFs } from '../../src/plan/view.js'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

const etc: ViewEntry = { kind: 'bind', src: '/etc', dest: '/etc', readOnly: true } as ViewEntry
const ns = { user: true, pid: true, mount: true, ipc: true, uts: true, net: true, cgroup: true, time: false }
const fakeFs = (text: string | undefined, kind: 'file' | 'symlink' = 'file'): HostFs => ({
  kind: (p) => (p === '/etc/hosts' ? kind : 'dir'),
  readlink: () => '',
  list: () => [],
  text: (p) => (p === '/etc/hosts' ? text : undefined),
})
const policy = (over: object = {}) => ({ hostname: 'cordon', namespaces: ns, filesystem: [etc], ...over })

describe('the entry', () => {
  test("the host's text with the name added, said in the notes", () => {
    const notes: string[] = []
    const e = sandboxHosts(policy(), fakeFs('127.0.0.1 localhost\n::1 localhost'), notes)
    assert.deepEqual(e, {
      kind: 'file',
      dest: '/etc/hosts',
      content: '127.0.0.1 localhost\n::1 localhost\n127.0.1.1\tcordon\n',
      mode: 0o644,
    })
    assert.match(notes.join('\n'), /\/etc\/hosts: the host's, with this sandbox's hostname cordon/)
  })

  test('none where the host already names it, a comment and case aside', () => {
    assert.equal(sandboxHosts(policy(), fakeFs('10.0.0.2 db CORDON # here\n'), []), undefined)
    assert.ok(sandboxHosts(policy(), fakeFs('10.0.0.2 db # cordon\n'), []))
  })

  test('none without a name, a uts or mount namespace, a bind of it, or a file there', () => {
    const fs = fakeFs('127.0.0.1 localhost\n')
    assert.equal(sandboxHosts(policy({ hostname: undefined }), fs, []), undefined)
    assert.equal(sandboxHosts(policy({ namespaces: { ...ns, uts: false } }), fs, []), undefined)
    assert.equal(sandboxHosts(policy({ namespaces: { ...ns, mount: false } }), fs, []), undefined)
    assert.equal(sandboxHosts(policy({ filesystem: [] }), fs, []), undefined)
    assert.equal(sandboxHosts(policy(), fakeFs('127.0.0.1 localhost\n', 'symlink'), []), undefined)
    assert.equal(sandboxHosts(policy(), fakeFs(undefined), []), undefined)
  })

  test("the policy's own /etc/hosts wins", () => {
    const own = { kind: 'file', dest: '/etc/hosts', content: '', mode: 0o644 } as ViewEntry
    assert.equal(sandboxHosts(policy({ filesystem: [etc, own] }), fakeFs('x'), []), undefined)
  })
})

describe('in a sandbox', { skip: !isRoot && 'needs root (the plain user runs through cordonAs)' }, () => {
  const script = 'getent hosts "$(hostname)"; head -1 /etc/hosts; echo x >> /etc/hosts || echo read-only'
  const hostFirst = readFileSync('/etc/hosts', 'utf8').split('\n')[0]
  const expected = `127.0.1.1       cordon\n${hostFirst}\nread-only\n`

  test('the default profile resolves its own name, and keeps the host’s lines read-only', () => {
    const r = cordon(['run', '-q', '--', 'sh', '-c', script])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, expected)
  })

  test('so does a plain user’s', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-hosts-'))
    chmodSync(dir, 0o755)
    try {
      const r = cordonAs(ensureTestUser(), ['run', '-q', '--', 'sh', '-c', script], dir)
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, expected)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
