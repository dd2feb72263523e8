// A view entry's destination is settled through the view's symlinks, judged as bind sources'
// are (policy/view-dests.ts): a run that planted `a/cache -> /` in a writable bind made the next
// run's `tmpfs: /proj/a/cache` land on the view's root, and its Landlock rule grant the whole
// view (mkdir in /dev, writes in /proc). And the launcher opens such a rule without following
// a link, so one swapped in after the plan was made fails the start.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import type { ViewEntry } from '../../src/policy/resolved.js'
import { settleDests } from '../../src/policy/view-dests.js'
import { bindEntry, cordon, cordonAs, ensureTestUser, fakeHostPaths, isRoot, LAUNCHER } from '../helpers.js'

const host = fakeHostPaths({
  '/': ['dir', 0, 0o755],
  '/usr': ['dir', 0, 0o755],
  '/usr/lib': ['dir', 0, 0o755],
  '/usr/lib/x': ['dir', 0, 0o755],
  '/usr/share': ['dir', 0, 0o755],
  '/usr/share/top': ['symlink', 0, 0o777, '/'],
  '/lib': ['symlink', 0, 0o777, 'usr/lib'],
  '/srv': ['dir', 0, 0o755],
  '/srv/p': ['dir', 0, 0o755],
  '/srv/p/a': ['dir', 0, 0o755],
  '/srv/p/a/cache': ['symlink', 0, 0o777, '/'],
  '/srv/p/dev': ['symlink', 0, 0o777, '/dev'],
  '/tmp': ['dir', 0, 0o1777],
  '/tmp/d': ['dir', 0, 0o755],
  '/tmp/d/up': ['symlink', 0, 0o777, '/'],
  '/srv/rootfs': ['dir', 0, 0o755],
  '/srv/rootfs/lib': ['symlink', 0, 0o777, 'usr/lib'],
  '/srv/rootfs/usr': ['dir', 0, 0o755],
  '/srv/rootfs/usr/lib': ['dir', 0, 0o755],
  '/r': ['dir', 0, 0o755],
  '/r/shared': ['dir', 0, 0o755],
  '/r/shared/l': ['symlink', 0, 0o777, '/t'],
  '/r/evil1': ['dir', 0, 0o755],
  '/r/evil1/n': ['symlink', 0, 0o777, '/u'],
  '/r/evil2': ['dir', 0, 0o755],
  '/r/evil2/proc': ['symlink', 0, 0o777, '/'],
  '/home': ['dir', 0, 0o755],
  '/home/u': ['dir', 1000, 0o755],
  '/home/u/l': ['symlink', 1000, 0o777, '/etc'],
})

const bind = bindEntry
const tmpfs = (dest: string): ViewEntry => ({ kind: 'tmpfs', dest, size: 4096, mode: 0o755 })

describe('view destinations settle through the links no sandbox of the policy planted', () => {
  const cases: { name: string; view: ViewEntry[]; want: RegExp | ViewEntry[] }[] = [
    {
      name: 'a link a sandbox planted in a writable bind is refused, not followed to the root',
      view: [bind('/srv/p', '/proj', false), tmpfs('/proj/a/cache')],
      want: /`tmpfs: \/proj\/a\/cache`: its path passes through the symlink \/proj\/a\/cache -> \/ \(the host's \/srv\/p\/a\/cache\).*inside the writable bind \/srv\/p/,
    },
    {
      name: 'nor to another mount of the view (/dev, whose rights only Landlock narrows)',
      view: [bind('/srv/p', '/proj', false), bind('/srv/data', '/proj/dev/data')],
      want: /`ro: \/srv\/data:\/proj\/dev\/data`: its path passes through the symlink \/proj\/dev -> \/dev/,
    },
    {
      name: 'a root’s link elsewhere is followed, but never onto the view’s root',
      view: [bind('/tmp/d', '/hz'), bind('/srv/x', '/hz/up', false)],
      want: /`rw: \/srv\/x:\/hz\/up` leads to the view's root \(through \/hz\/up -> \/\)/,
    },
    {
      // helper-122: each bind is placed by one pass, and holds a link on the next one's way.
      name: 'nested binds settle until none moves: the last one cannot reach the root',
      view: [
        bind('/r/shared', '/s'),
        bind('/r/evil1', '/s/l/m'),
        bind('/r/evil2', '/t/m/n/q'),
        { kind: 'proc', dest: '/u/q/proc' },
      ],
      want: /`proc: \/u\/q\/proc` leads to the view's root \(through \/u\/q\/proc -> \/\)/,
    },
    {
      name: 'a custom root’s links are followed (merged /usr in `ro: /srv/rootfs:/`)',
      view: [bind('/srv/rootfs', '/'), tmpfs('/lib/app')],
      want: [bind('/srv/rootfs', '/'), { ...tmpfs('/usr/lib/app'), named: '/lib/app' }],
    },
    {
      name: 'a user’s link is refused',
      view: [bind('/home/u', '/u'), tmpfs('/u/l/x')],
      want: /passes through the symlink \/u\/l -> \/etc \(the host's \/home\/u\/l\).*owned by uid 1000/,
    },
    {
      name: 'root’s link in a system directory is followed, but never onto the view’s root',
      view: [bind('/usr'), tmpfs('/usr/share/top')],
      want: /`tmpfs: \/usr\/share\/top` leads to the view's root .*\/usr\/share\/top -> \/.*hidden beneath the root/,
    },
    {
      name: 'root’s link in a system directory places the entry where it leads',
      view: [bind('/usr'), bind('/lib'), tmpfs('/lib/x')],
      want: [bind('/usr'), bind('/lib'), { ...tmpfs('/usr/lib/x'), named: '/lib/x' }],
    },
    {
      name: 'the policy’s own symlink entries are followed',
      view: [{ kind: 'symlink', target: '/work', dest: '/w' }, tmpfs('/w/cache')],
      want: [
        { kind: 'symlink', target: '/work', dest: '/w' },
        { ...tmpfs('/work/cache'), named: '/w/cache' },
      ],
    },
    {
      name: 'a symlink entry’s own name is not followed, and `/` is the root itself',
      view: [bind('/usr'), { kind: 'symlink', target: '/', dest: '/usr/share/top' }, bind('/srv/r', '/')],
      want: [bind('/usr'), { kind: 'symlink', target: '/', dest: '/usr/share/top' }, bind('/srv/r', '/')],
    },
  ]
  for (const c of cases)
    test(c.name, () => {
      if (c.want instanceof RegExp) assert.throws(() => settleDests(c.view, host, 0), c.want)
      else {
        assert.deepEqual(settleDests(c.view, host, 0), c.want)
        assert.deepEqual(settleDests(c.want, host, 0), c.want, 'idempotent')
      }
    })
  test('a symlink entry is made as named, in the directory its parent leads to', () => {
    const view: ViewEntry[] = [bind('/usr'), bind('/lib'), { kind: 'symlink', target: 'y', dest: '/lib/x/l' }]
    assert.deepEqual(settleDests(view, host, 0)[2], {
      kind: 'symlink',
      target: 'y',
      dest: '/usr/lib/x/l',
      named: '/lib/x/l',
    })
  })
})

/** The finding as reproduced: one run plants a link in its writable project, the next run's
 * tmpfs inside it is steered by it. */
function plantedRuns(
  run: (args: string[]) => { status: number | null; stdout: string; stderr: string },
  project: string,
) {
  const policy = join(project, 'policy.yaml')
  mkdirSync(join(project, 'proj', 'a', 'cache'), { recursive: true })
  mkdirSync(join(project, 'proj', 'c'))
  writeFileSync(
    policy,
    `version: 1\nextends: [default]\nfilesystem:\n  - rw: ${project}/proj:/proj\n  - tmpfs: /proj/a/cache\n`,
  )
  const probe = 'mkdir /dev/cordon-x && echo GRANTED; echo ran'
  test('the policy runs, and its tmpfs grants nothing beyond itself', () => {
    const r = run(['run', '-q', '--policy', policy, '--', 'sh', '-c', `touch /proj/a/cache/f && ${probe}`])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'ran\n')
  })
  test('a link planted by one run does not steer the next run’s tmpfs onto the view’s root', () => {
    const plant = run([
      'run',
      '-q',
      '--policy',
      policy,
      '--',
      'sh',
      '-c',
      'mv /proj/a /proj/b && mkdir /proj/a && ln -s / /proj/a/cache',
    ])
    assert.equal(plant.status, 0, plant.stderr)
    const r = run(['run', '-q', '--policy', policy, '--', 'sh', '-c', probe])
    assert.doesNotMatch(r.stdout, /GRANTED/, 'the planted link widened Landlock to the whole view')
    assert.equal(r.status, 125, r.stderr)
    assert.match(
      r.stderr,
      /`tmpfs: \/proj\/a\/cache`: its path passes through the symlink \/proj\/a\/cache -> \//,
    )
  })
  // helper-121: a same-path bind skipped the source rule (the view reproduces the link), and
  // runc bound its target: the host's root, writable, as host root.
  test('a planted link is no writable bind’s source, even named by its own path', () => {
    const plant = run(['run', '-q', '--rw', `${project}/proj`, '--', 'ln', '-s', '/', `${project}/proj/pl`])
    assert.equal(plant.status, 0, plant.stderr)
    const r = run(['run', '-q', '--rw', `${project}/proj/pl`, '--', 'sh', '-c', 'echo x > /tmp/ok; echo ran'])
    assert.equal(r.status, 125, r.stderr)
    assert.match(
      r.stderr,
      /the bind source .*\/proj\/pl passes through the symlink .*\/proj\/pl -> \/; a writable bind/,
    )
  })
  test('a `landlock.paths` rule is settled too', () => {
    const rules = join(project, 'rules.yaml')
    writeFileSync(
      rules,
      `version: 1\nextends: [default]\nfilesystem:\n  - ro: ${project}/proj:/proj\n` +
        'landlock:\n  paths:\n    - { path: /proj/c/l, access: rw }\n',
    )
    const plant = run(['run', '-q', '--rw', `${project}/proj`, '--', 'ln', '-s', '/', `${project}/proj/c/l`])
    assert.equal(plant.status, 0, plant.stderr)
    const r = run([
      'run',
      '-q',
      '--policy',
      rules,
      '--',
      'sh',
      '-c',
      'mkdir /dev/cordon-y && echo GRANTED; echo ran',
    ])
    assert.doesNotMatch(r.stdout, /GRANTED/)
    assert.equal(r.status, 125, r.stderr)
    assert.match(r.stderr, /`landlock.paths\[0\] \/proj\/c\/l` leads to the view's root/)
  })
}

describe('planted destination links (root caller)', { skip: isRoot ? false : 'needs root' }, () => {
  const project = `/srv/cordon-view-dests-${process.pid}`
  mkdirSync(project, { recursive: true, mode: 0o755 })
  after(() => rmSync(project, { recursive: true, force: true }))
  plantedRuns((args) => cordon(args, { cwd: project }), project)

  // The mount itself is placed without following a link the plan did not see (BIND_SETTLED),
  // an optional entry's too (helper-121: its rule's ELOOP was skipped as optional while its
  // mount followed the link onto /tmp); the Landlock rule is opened without following one.
  for (const entry of ['tmpfs: /proj/a/cache', 'rw: { src: DIR/data, dest: /proj/a/cache, optional: true }'])
    test(`a link swapped into the way after the plan was made fails the start (ELOOP): ${entry}`, () => {
      const dir = mkdtempSync(join(project, 'swap-'))
      mkdirSync(join(dir, 'proj', 'a', 'cache'), { recursive: true })
      mkdirSync(join(dir, 'data'))
      const policy = join(dir, 'policy.yaml')
      writeFileSync(
        policy,
        `version: 1\nextends: [default]\nfilesystem:\n  - ro: ${dir}/proj:/proj\n  - ${entry.replace('DIR', dir)}\n`,
      )
      const plan = join(dir, 'plan.bin')
      const c = cordon(['compile', '-q', '--policy', policy, '-o', plan], { cwd: project })
      assert.equal(c.status, 0, c.stderr)
      const probe = ['/bin/sh', '-c', 'mkdir /dev/cordon-x && echo GRANTED; echo ran']
      const before = spawnSync(LAUNCHER, [plan, '--', ...probe], { encoding: 'utf8', cwd: project })
      assert.equal(before.stdout, 'ran\n', before.stderr)
      renameSync(join(dir, 'proj', 'a'), join(dir, 'proj', 'b'))
      mkdirSync(join(dir, 'proj', 'a'))
      symlinkSync('/', join(dir, 'proj', 'a', 'cache'))
      const r = spawnSync(LAUNCHER, [plan, '--', ...probe], { encoding: 'utf8', cwd: project })
      assert.doesNotMatch(r.stdout, /GRANTED|ran/, 'the command ran with the swapped link')
      assert.equal(r.status, 125)
      assert.match(
        r.stderr,
        /a symlink is on the destination's way since the plan was made\) \/proj\/a\/cache failed: .*\(ELOOP\)/,
      )
    })
})

describe(
  'planted destination links (plain user)',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    const user = isRoot ? ensureTestUser() : { uid: 0, gid: 0 }
    const project = mkdtempSync('/tmp/cordon-view-dests-user-')
    chmodSync(project, 0o755)
    after(() => rmSync(project, { recursive: true, force: true }))
    plantedRuns((args) => cordonAs(user, args, project), project)
    if (isRoot)
      for (const p of ['', 'proj', 'proj/a', 'proj/a/cache', 'proj/c'])
        lchownSync(join(project, p), user.uid, user.gid)
  },
)
