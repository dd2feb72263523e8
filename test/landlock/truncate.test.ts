// Read-only binds inside the view grant Landlock's truncate right so that the kernel's check
// of every open stops at the rule (issue 23). That must lose nothing: the read-only mount still
// refuses every way of truncating (EROFS), and without a mount namespace, where Landlock is the
// only layer, the right is never granted. Checked as root and as the plain user.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { FS } from '../../src/landlock/rights.js'
import { landlockRules } from '../../src/plan/landlock.js'
import { resolvePolicy } from '../../src/index.js'
import type { FilesystemEntry } from '../../src/policy/schema.js'
import { cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'

const CONTENT = 'keep me\n'
const dir = () => join(projectDir(), 'trunc-ro')
const victim = () => join(dir(), 'victim')

// Every route to a shorter file: truncate(2), open with O_TRUNC read-only and write-only.
const ATTEMPTS = `
import errno, os, sys
f = sys.argv[1]
def t(name, fn):
    try:
        fn(); print(name, 'ok')
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
t('truncate', lambda: os.truncate(f, 0))
t('open-rdonly-trunc', lambda: os.close(os.open(f, os.O_RDONLY | os.O_TRUNC)))
t('open-wronly-trunc', lambda: os.close(os.open(f, os.O_WRONLY | os.O_TRUNC)))
`

function results(out: string): Map<string, string> {
  return new Map(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  )
}

describe('read-only binds and truncate', () => {
  before(() => {
    mkdirSync(dir(), { recursive: true })
    chmodSync(projectDir(), 0o755)
    chmodSync(dir(), 0o777)
    writeFileSync(victim(), CONTENT)
    // Writable by anyone, so only cordon's layers stand in the way.
    chmodSync(victim(), 0o666)
  })

  test('a read-only bind in the view grants truncate; a host rule without a view does not', () => {
    const policy = { extends: ['default'], filesystem: [{ ro: dir() }] }
    const inView = resolvePolicy({ policy, baseDir: projectDir(), label: 'test' }, projectDir())
    const rule = landlockRules(inView).find((r) => r.path === dir())
    assert.ok(rule && (rule.access & FS.truncate) !== 0n, 'the ro bind grants truncate in the view')
    const outside = resolvePolicy(
      {
        policy: { ...policy, namespaces: { mount: false, user: false, pid: false } },
        baseDir: projectDir(),
        label: 't',
      },
      projectDir(),
    )
    const hostRule = landlockRules(outside).find((r) => r.path === dir())
    assert.ok(hostRule, 'the bind is a host rule without a view')
    assert.equal(hostRule.access & FS.truncate, 0n, 'Landlock alone never grants truncate on a ro bind')
  })

  // Landlock's rights are inherited down the tree and belong to inodes: a ro bind's truncate
  // would reach a writable mount below it, or a writable bind of the same host files, whose own
  // `access:` leaves truncate out (no EROFS there). Shown outside the view's /tmp, whose tmpfs
  // grants truncate to everything below it.
  for (const [name, entries, path] of [
    [
      'a writable mount below it',
      (d: string) => [
        { ro: `${d}:/data` },
        { rw: { src: join(d, 'w'), dest: '/data/w', access: ['read', 'write', 'readdir'] } },
      ],
      '/data/w/victim',
    ],
    [
      'a writable bind of the same host files',
      (d: string) => [
        { ro: `${join(d, 'w')}:/r` },
        { rw: { src: d, dest: '/w', access: ['read', 'write', 'readdir'] } },
      ],
      '/w/w/victim',
    ],
  ] as const)
    test(`a ro bind's truncate never reaches ${name} that refuses it`, () => {
      const d = join(dir(), `alias-${name.length}`)
      mkdirSync(join(d, 'w'), { recursive: true })
      chmodSync(d, 0o777)
      chmodSync(join(d, 'w'), 0o777)
      writeFileSync(join(d, 'w', 'victim'), CONTENT)
      chmodSync(join(d, 'w', 'victim'), 0o666)
      const policyFile = join(dir(), `alias-${name.length}.json`)
      writeFileSync(policyFile, JSON.stringify({ extends: ['default'], filesystem: entries(d) }))
      const r = cordon(['run', '-p', policyFile, '--', 'python3', '-c', ATTEMPTS, path])
      assert.equal(r.status, 0, r.stderr)
      for (const [call, got] of results(r.stdout)) assert.equal(got, 'EACCES', `${call}: ${r.stdout}`)
      assert.equal(readFileSync(join(d, 'w', 'victim'), 'utf8'), CONTENT)
    })

  for (const mode of ['view', 'no-namespaces'] as const) {
    const flags = [
      'run',
      '--ro',
      dir(),
      ...(mode === 'no-namespaces' ? ['--no-namespaces', '--acknowledge', 'no-view'] : []),
    ]
    const want = mode === 'view' ? 'EROFS' : 'EACCES'
    test(`every truncate is refused (${mode}, caller's uid), the file is intact`, () => {
      const r = cordon([...flags, '--', 'python3', '-c', ATTEMPTS, victim()])
      assert.equal(r.status, 0, r.stderr)
      for (const [name, got] of results(r.stdout)) assert.equal(got, want, `${name}: ${r.stdout}`)
      assert.equal(readFileSync(victim(), 'utf8'), CONTENT)
    })
    test(
      `every truncate is refused (${mode}, plain user), the file is intact`,
      { skip: !isRoot && 'needs root to create the plain user' },
      () => {
        const user = ensureTestUser()
        const r = cordonAs(user, [...flags, '--', 'python3', '-c', ATTEMPTS, victim()], projectDir())
        assert.equal(r.status, 0, r.stderr)
        for (const [name, got] of results(r.stdout)) assert.equal(got, want, `${name}: ${r.stdout}`)
        assert.equal(readFileSync(victim(), 'utf8'), CONTENT)
      },
    )
  }
})

// proc and /dev grant truncate in the view too (issue 23): the kernel asks for it at every
// open, so without it each open under them walked on to the root and every open with O_TRUNC
// (a shell's `echo 1 > /proc/self/oom_score_adj`) failed EACCES where bwrap and the host allow
// it. Nothing is lost: procfs keeps a file's contents on truncate, /dev holds device nodes and
// nothing the sandbox can create.
describe('proc, /dev and truncate', () => {
  const rulesOf = (filesystem: FilesystemEntry[], namespaces?: Record<string, boolean>) =>
    landlockRules(
      resolvePolicy(
        {
          policy: { extends: ['default'], filesystem, ...(namespaces ? { namespaces } : {}) },
          baseDir: projectDir(),
          label: 'test',
        },
        projectDir(),
      ),
    )
  const truncates = (rules: ReturnType<typeof rulesOf>, path: string) => {
    const r = rules.find((x) => x.path === path)
    assert.ok(r, `a rule on ${path}`)
    return (r.access & FS.truncate) !== 0n
  }

  test('the view grants truncate on /proc and /dev; the host rules without a view do not', () => {
    const inView = rulesOf([])
    assert.ok(truncates(inView, '/proc'))
    assert.ok(truncates(inView, '/dev'))
    const outside = rulesOf([], { mount: false, user: false, pid: false })
    assert.equal(truncates(outside, '/proc'), false, "the host's /proc stays read-only")
    assert.ok(outside.filter((r) => r.path.startsWith('/dev/')).every((r) => (r.access & FS.truncate) === 0n))
  })

  test('/dev gets no truncate over a writable bind or a file below it that refuses it', () => {
    const d = join(dir(), 'devw')
    mkdirSync(d, { recursive: true })
    const bind = rulesOf([{ rw: { src: d, dest: '/dev/w', access: ['read', 'write', 'readdir'] } }])
    assert.equal(truncates(bind, '/dev'), false)
    const file = rulesOf([{ file: { dest: '/dev/note', content: 'x' } }])
    assert.equal(truncates(file, '/dev'), false)
  })

  const PROC = `
import errno, os
def t(name, fn):
    try:
        fn(); print(name, 'ok')
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
def write_trunc(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try: os.write(fd, data)
    finally: os.close(fd)
t('oom-score-adj', lambda: write_trunc('/proc/self/oom_score_adj', b'500'))
print('oom', open('/proc/self/oom_score_adj').read().strip())
t('truncate-comm', lambda: os.truncate('/proc/self/comm', 0))
print('comm', open('/proc/self/comm').read().strip())
t('truncate-dev-null', lambda: os.truncate('/dev/null', 0))
t('create-in-dev', lambda: os.close(os.open('/dev/new', os.O_CREAT | os.O_WRONLY, 0o600)))
`
  test('an O_TRUNC write to /proc works, proc keeps contents, /dev stays closed to new files', () => {
    const r = cordon(['run', '--', 'python3', '-c', PROC])
    assert.equal(r.status, 0, r.stderr)
    const got = results(r.stdout)
    assert.equal(got.get('oom-score-adj'), 'ok', r.stdout)
    assert.equal(got.get('oom'), '500', r.stdout)
    assert.equal(got.get('truncate-comm'), 'ok', r.stdout)
    assert.equal(got.get('comm'), 'python3', 'truncating a proc file leaves its contents')
    assert.equal(got.get('truncate-dev-null'), 'EINVAL', r.stdout)
    assert.equal(got.get('create-in-dev'), 'EACCES', r.stdout)
  })
})
