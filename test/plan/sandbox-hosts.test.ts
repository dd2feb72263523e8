// The sandbox's hostname in its /etc/hosts (plan/sandbox-hosts.ts): the default profile names the
// sandbox `cordon`, which the host's /etc/hosts does not, so the sandbox could not resolve its
// own name (getent, Java's getLocalHost, Python's gethostbyname(gethostname())).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { ViewEntry } from '../../src/policy/resolve.js'
import { sandboxHosts } from '../../src/plan/sandbox-hosts.js'
import type { HostFs } from '../../src/plan/view.js'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

const etc: ViewEntry = { kind: 'bind', src: '/etc', dest: '/etc', readOnly: true } as ViewEntry
const ns = { user: true, pid: true, mount: true, ipc: true, uts: true, net: true, cgroup: true, time: false }
const fakeFs = (text: string | undefined): HostFs => ({
  kind: () => 'dir',
  readlink: () => '',
  list: () => [],
  publicText: (path, from) => (path === '/etc/hosts' && from === '/etc' ? text : undefined),
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

  test('none without a name, a uts or mount namespace, a read-only bind of it, or a public file there', () => {
    const fs = fakeFs('127.0.0.1 localhost\n')
    assert.equal(sandboxHosts(policy({ hostname: undefined }), fs, []), undefined)
    assert.equal(sandboxHosts(policy({ namespaces: { ...ns, uts: false } }), fs, []), undefined)
    assert.equal(sandboxHosts(policy({ namespaces: { ...ns, mount: false } }), fs, []), undefined)
    assert.equal(sandboxHosts(policy({ filesystem: [] }), fs, []), undefined)
    const rw = { ...etc, readOnly: false } as ViewEntry
    assert.equal(sandboxHosts(policy({ filesystem: [rw] }), fs, []), undefined)
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

describe('a copy never shows what the sandbox could not read', { skip: !isRoot && 'needs root' }, () => {
  // The view's /etc is a directory of the test's; the sandbox (root's id range) reads its
  // /etc/hosts only where any process could through the bind.
  // The script reads the file only when it is one (cat would wait on a FIFO, as it does outside).
  const cases: [string, (etc: string, secret: string) => void, string][] = [
    [
      'a file only its owner may read',
      (etc) => writeFileSync(join(etc, 'hosts'), 'SECRET\n', { mode: 0o600 }),
      'unreadable',
    ],
    ['a link to a root-only file', (etc, secret) => symlinkSync(secret, join(etc, 'hosts')), 'unreadable'],
    [
      'a FIFO, which the compile does not wait on',
      (etc) => execFileSync('mkfifo', [join(etc, 'hosts')]),
      'fifo',
    ],
  ]
  for (const [what, make, expected] of cases)
    test(what, (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'cordon-hosts-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      chmodSync(dir, 0o755)
      const etc = join(dir, 'etc')
      mkdirSync(etc, { mode: 0o755 })
      const secret = join(dir, 'secret')
      mkdirSync(secret, { mode: 0o700 })
      writeFileSync(join(secret, 'hosts'), 'SECRET\n', { mode: 0o644 })
      make(etc, join(secret, 'hosts'))
      const policy = join(dir, 'policy.yaml')
      writeFileSync(policy, `extends: [default]\nfilesystem:\n  - ro: { src: ${etc}, dest: /etc }\n`)
      const r = cordon(
        [
          'run',
          '-q',
          '-p',
          policy,
          '--',
          'sh',
          '-c',
          'if test -p /etc/hosts; then echo fifo; else cat /etc/hosts 2>/dev/null || echo unreadable; fi',
        ],
        {
          cwd: dir,
          timeout: 20_000,
        },
      )
      assert.equal(r.signal, null, 'the run hung')
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, `${expected}\n`)
    })

  test('a writable bind keeps the host’s file, writable', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-hosts-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    chmodSync(dir, 0o755)
    const etc = join(dir, 'etc')
    mkdirSync(etc, { mode: 0o777 })
    writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n', { mode: 0o666 })
    const policy = join(dir, 'policy.yaml')
    writeFileSync(policy, `extends: [default]\nfilesystem:\n  - rw: { src: ${etc}, dest: /etc }\n`)
    const r = cordon(
      ['run', '-q', '-p', policy, '--', 'sh', '-c', 'echo 10.0.0.1 x >> /etc/hosts && echo wrote'],
      {
        cwd: dir,
      },
    )
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'wrote\n')
    assert.equal(readFileSync(join(etc, 'hosts'), 'utf8'), '127.0.0.1 localhost\n10.0.0.1 x\n')
  })
})
