// The pure side of attack9's view findings (test/run/view-host-names.test.ts runs them on the
// kernel): where a view path leads (policy/view-paths.ts), which entries would make names in host
// directories (plan/mount-points.ts), how masks shape Landlock's rules (plan/landlock.ts).
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { hostDirents, recordHostReads, sameHostReads } from '../../src/host/reads.js'
import { foreignRights, landlockRules } from '../../src/plan/landlock.js'
import { compileView, type HostFs, type HostKind } from '../../src/plan/view.js'
import { type ResolvedPolicy, resolvePolicy, type ViewEntry } from '../../src/policy/resolve.js'
import { resolveBindSources } from '../../src/policy/bind-sources.js'
import { resolveViewPath } from '../../src/policy/view-paths.js'

/** A host of paths: kind, and a symlink's target. */
function fakeFs(table: Record<string, string>): HostFs {
  const kind = (p: string): HostKind => {
    const v = table[p]
    if (v === undefined) return 'missing'
    return v === 'file' || v === 'dir' ? v : 'symlink'
  }
  return {
    kind,
    readlink: (p) => table[p] as string,
    list: (p) =>
      Object.keys(table)
        .filter(
          (k) => k !== p && k.startsWith(p === '/' ? '/' : `${p}/`) && !k.slice(p.length + 1).includes('/'),
        )
        .map((k) => ({ name: k.slice(p.length + 1), kind: kind(k) as 'file' })),
  }
}

const host = fakeFs({
  '/': 'dir',
  '/etc': 'dir',
  '/etc/hostname': 'file',
  '/srv': 'dir',
  '/srv/x': 'dir',
  '/srv/x/conf': 'file',
  '/srv/x/real': 'dir',
  '/srv/x/real/secret': 'file',
  '/srv/x/real/other': 'file',
  '/srv/x/link': 'real',
  '/srv/x/abs': '/srv/x/real',
  '/srv/x/up': '../x/real/../real',
  '/srv/x/out': '/etc',
  '/srv/x/loop': 'loop',
  '/srv/x/sub': 'dir',
  '/srv/x/sub/a': 'file',
  '/data': 'dir',
  '/data/s': 'file',
})

type Bind = Extract<ViewEntry, { kind: 'bind' }>
const bind = (src: string, dest = src, readOnly = false): Bind => ({
  kind: 'bind',
  src,
  dest,
  readOnly,
  optional: false,
})
const mask = (dest: string): ViewEntry => ({ kind: 'mask', dest })
const paths = {
  stat: (p: string) => ({ kind: host.kind(p), uid: 0, mode: 0o755 }),
  readlink: (p: string) => host.readlink(p),
}

describe('a view path resolves as the sandbox resolves it', () => {
  const view = [
    bind('/srv/x'),
    bind('/data', '/etc', true),
    { kind: 'symlink', target: '/srv/x/real', dest: '/r' } as ViewEntry,
  ]
  const cases: { name: string; path: string; want: string; keepLast?: true; noView?: true }[] = [
    { name: 'a relative link inside the bind', path: '/srv/x/link/secret', want: '/srv/x/real/secret' },
    { name: 'an absolute link, from the view root', path: '/srv/x/abs/secret', want: '/srv/x/real/secret' },
    {
      name: '`..` in a target goes up from the link’s real directory',
      path: '/srv/x/up/secret',
      want: '/srv/x/real/secret',
    },
    {
      name: 'a link out of the bind lands on what the view shows there',
      path: '/srv/x/out/s',
      want: '/etc/s',
    },
    { name: 'a `symlink:` entry of the view is followed', path: '/r/secret', want: '/srv/x/real/secret' },
    {
      name: 'the last component is kept when asked',
      path: '/srv/x/link',
      want: '/srv/x/link',
      keepLast: true,
    },
    {
      name: 'without a view, the host’s links',
      path: '/srv/x/out/hostname',
      want: '/etc/hostname',
      noView: true,
    },
  ]
  for (const c of cases)
    test(c.name, () => {
      const r = resolveViewPath(
        c.path,
        host,
        c.noView ? undefined : view,
        c.keepLast ? { keepLast: true } : {},
      )
      assert.equal(r.path, c.want)
    })
  test('a loop is an error naming the path', () => {
    assert.throws(
      () => resolveViewPath('/srv/x/loop/a', host, view),
      /\/srv\/x\/loop\/a: too many levels of symlinks/,
    )
  })
})

describe('masks hide where their path leads', () => {
  test('through a link inside the bind, named for the explanation', () => {
    const out = resolveBindSources([bind('/srv/x'), mask('/srv/x/link/secret')], paths)
    assert.deepEqual(out[1], { kind: 'mask', dest: '/srv/x/real/secret', named: '/srv/x/link/secret' })
    assert.deepEqual(resolveBindSources(out, paths), out, 'idempotent')
  })
  test('through a link out of the bind, onto the bind shown there', () => {
    const out = resolveBindSources([bind('/srv/x'), bind('/data', '/etc', true), mask('/srv/x/out/s')], paths)
    assert.deepEqual(out[2], { kind: 'mask', dest: '/etc/s', host: '/data/s', named: '/srv/x/out/s' })
  })
  test('under a bind shown at another place, with the host path it hides', () => {
    const out = resolveBindSources([bind('/data', '/d', true), mask('/d/s')], paths)
    assert.deepEqual(out[1], { kind: 'mask', dest: '/d/s', host: '/data/s' })
    const ops = compileView(out, [], host)
    assert.ok(
      ops.some((op) => op.op === 'bind' && op.src === '/dev/null' && op.dest === '/d/s'),
      'not mounted',
    )
  })
})

describe('the view makes no names in host directories', () => {
  const refused: { name: string; view: ViewEntry[]; want: RegExp }[] = [
    {
      name: 'a file under a rw bind',
      view: [bind('/srv/x'), { kind: 'file', dest: '/srv/x/new', content: '', mode: 0o644 }],
      want: /`file: \/srv\/x\/new` would leave \/srv\/x\/new behind .*`rw: \/srv\/x`.*`touch \/srv\/x\/new`/,
    },
    {
      name: 'a tmpfs two levels down: the first missing name, and mkdir -p',
      view: [bind('/srv/x'), { kind: 'tmpfs', dest: '/srv/x/a/b', size: 0, mode: 0o755 }],
      want: /would leave \/srv\/x\/a behind.*`mkdir -p \/srv\/x\/a\/b`/,
    },
    {
      name: 'a symlink under the writable root',
      view: [bind('/'), { kind: 'symlink', target: '/etc', dest: '/lnk' }],
      want: /`symlink: \/lnk` would leave \/lnk behind .*`rw: \/`.*`ln -s \/etc \/lnk`/,
    },
    {
      name: 'a bind under a bind shown elsewhere: the host path is the source’s',
      view: [bind('/srv/x', '/w'), bind('/data', '/w/d', true)],
      want: /`ro: \/data:\/w\/d` would leave \/srv\/x\/d behind in the host directory \/srv\/x \(shown writable by `rw: \/srv\/x:\/w`\)/,
    },
    {
      name: 'a file through a link: judged where it leads',
      view: [bind('/srv/x'), { kind: 'file', dest: '/srv/x/link/new', content: '', mode: 0o644 }],
      want: /would leave \/srv\/x\/real\/new behind/,
    },
    {
      name: 'under a read-only bind (EROFS at the launcher before)',
      view: [bind('/srv/x', '/srv/x', true), { kind: 'mkdir', dest: '/srv/x/n', mode: 0o755 }],
      want: /`mkdir: \/srv\/x\/n` needs \/srv\/x\/n to exist in the read-only bind `ro: \/srv\/x`/,
    },
    {
      name: 'learn’s view of the host says so',
      view: [
        { ...bind('/'), idmap: false },
        { kind: 'tmpfs', dest: '/work', size: 0, mode: 0o755 },
      ],
      want: /the traced run’s view of the host/,
    },
  ]
  for (const c of refused)
    test(`refused: ${c.name}`, () => assert.throws(() => compileView(c.view, [], host), c.want))

  const allowed: { name: string; view: ViewEntry[] }[] = [
    {
      name: 'names that exist',
      view: [
        bind('/srv/x'),
        { kind: 'file', dest: '/srv/x/conf', content: '', mode: 0o644 },
        mask('/srv/x/sub/a'),
      ],
    },
    { name: 'a mask of nothing', view: [bind('/srv/x'), mask('/srv/x/none')] },
    {
      name: 'names on the view’s own tmpfs',
      view: [
        bind('/srv/x'),
        { kind: 'tmpfs', dest: '/srv/x/sub', size: 0, mode: 0o755 },
        { kind: 'mkdir', dest: '/srv/x/sub/n', mode: 0o755 },
      ],
    },
    {
      name: 'names on the view’s root',
      view: [{ kind: 'file', dest: '/new/conf', content: '', mode: 0o644 }],
    },
    {
      name: 'an optional bind with no source',
      view: [bind('/srv/x'), { ...bind('/nowhere', '/srv/x/n', true), optional: true }],
    },
  ]
  for (const c of allowed)
    test(`allowed: ${c.name}`, () => assert.doesNotThrow(() => compileView(c.view, [], host)))
})

describe('masks and Landlock', () => {
  const policyOf = (filesystem: ViewEntry[], mount = true): ResolvedPolicy => {
    const p = resolvePolicy({ policy: {}, baseDir: '/', label: 'test' })
    return { ...p, filesystem, namespaces: { ...p.namespaces, mount } }
  }
  const rulePaths = (p: ResolvedPolicy) => landlockRules(p, host).map((r) => r.path)

  test('a read-only tree is split around its mask, and no rule goes through a symlink', () => {
    // Followed, /srv/x/link's rule would land on /srv/x/real and grant its masked file.
    const got = rulePaths(policyOf([bind('/srv/x', '/srv/x', true), mask('/srv/x/real/secret')]))
    assert.deepEqual(got.sort(), [
      '/',
      '/srv/x',
      '/srv/x/conf',
      '/srv/x/real',
      '/srv/x/real/other',
      '/srv/x/sub',
    ])
  })
  test('in a mount namespace a writable tree is granted whole; the mask is the mount view’s', () => {
    const p = policyOf([bind('/srv/x'), mask('/srv/x/real/secret')])
    assert.deepEqual(rulePaths(p).sort(), ['/', '/srv/x'])
    assert.match(foreignRights(p).get(p.filesystem[1]!) ?? '', /granted whole .*only the mount view hides it/)
  })
  test('without one Landlock is the only layer: the writable tree is split, strictly', () => {
    const p = policyOf([bind('/srv/x'), mask('/srv/x/real/secret')], false)
    assert.deepEqual(rulePaths(p).sort(), [
      '/srv/x',
      '/srv/x/conf',
      '/srv/x/real',
      '/srv/x/real/other',
      '/srv/x/sub',
    ])
    assert.equal(foreignRights(p).get(p.filesystem[1]!), undefined)
  })
})

test('a split tree’s listing is recorded with kinds: a child turned link invalidates a reused plan', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-dirents-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'child'))
  const { reads } = recordHostReads(() => hostDirents(dir))
  assert.ok(sameHostReads(reads))
  rmSync(join(dir, 'child'), { recursive: true })
  symlinkSync('/etc', join(dir, 'child'))
  assert.equal(sameHostReads(reads), false, 'same names, but a link now: the plan must be compiled again')
})
