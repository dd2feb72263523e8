// Issue 18, finding 4: bind sources are resolved without following symlinks an earlier run could
// have planted, judged on the path they resolve to, and opened by the launcher without symlinks.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, lchownSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { resolveBindSources } from '../../src/policy/bind-sources.js'
import type { ViewEntry } from '../../src/policy/resolve.js'
import { bindEntry, cordon, cordonAs, ensureTestUser, fakeHostPaths, isRoot, LAUNCHER } from '../helpers.js'

const host = fakeHostPaths({
  '/': ['dir', 0, 0o755],
  '/etc': ['dir', 0, 0o755],
  '/etc/cron.d': ['dir', 0, 0o755],
  '/etc/shadow': ['file', 0, 0o640],
  '/etc/resolv.conf': ['symlink', 0, 0o777, '../run/resolv.conf'],
  '/run': ['dir', 0, 0o755],
  '/run/resolv.conf': ['file', 0, 0o644],
  '/usr': ['dir', 0, 0o755],
  '/usr/lib': ['dir', 0, 0o755],
  '/lib': ['symlink', 0, 0o777, 'usr/lib'],
  '/home': ['dir', 0, 0o755],
  '/home/u': ['dir', 1000, 0o755],
  '/home/u/p': ['dir', 1000, 0o755],
  '/home/u/p/cfg': ['symlink', 1000, 0o777, '/etc'],
  '/srv': ['dir', 0, 0o755],
  '/srv/p': ['dir', 0, 0o755],
  '/srv/p/cfg': ['symlink', 0, 0o777, '/etc'],
  '/srv/p/key': ['symlink', 0, 0o777, '/etc/shadow'],
  '/usr/share': ['dir', 0, 0o755],
  // Root's links in a system directory: trusted, so only where they lead is judged.
  '/usr/share/key': ['symlink', 0, 0o777, '/etc/shadow'],
  '/usr/share/cfg': ['symlink', 0, 0o777, '/etc'],
  '/tmp': ['dir', 0, 0o1777],
  '/tmp/l': ['symlink', 0, 0o777, '/etc'],
})

const bind = bindEntry

describe('bind sources resolve without planted symlinks', () => {
  const cases: { name: string; view: ViewEntry[]; want: RegExp | ViewEntry[]; noView?: true }[] = [
    {
      name: 'a writable bind never passes through a symlink, even root’s',
      view: [bind('/srv/p/cfg/cron.d', '/x', false)],
      want: /writable bind writes wherever it points/,
    },
    {
      name: 'a read-only bind refuses a symlink owned by a user',
      view: [bind('/home/u/p/cfg', '/cfg')],
      want: /owned by uid 1000/,
    },
    {
      name: 'a read-only bind refuses a symlink in a directory others can write',
      view: [bind('/tmp/l', '/cfg')],
      want: /others can write \/tmp/,
    },
    {
      name: 'a read-only bind refuses a symlink inside a writable bind of the policy',
      view: [bind('/srv/p', '/srv/p', false), bind('/srv/p/cfg', '/cfg')],
      want: /inside the writable bind \/srv\/p/,
    },
    {
      name: 'a followed symlink must not land on a secret path',
      view: [bind('/usr/share/key', '/key')],
      want: /secret or masked path \(\/etc\/shadow\)/,
    },
    {
      name: 'root’s links in root’s directories are followed to their real path',
      view: [bind('/etc/resolv.conf', '/r'), bind('/lib/x', '/y')],
      want: [bind('/run/resolv.conf', '/r'), bind('/usr/lib/x', '/y')],
    },
    {
      name: 'a same-path symlink stays (the view reproduces it)',
      view: [bind('/lib')],
      want: [bind('/lib')],
    },
    {
      name: 'a same-path link is judged as any other: a writable one never passes',
      view: [bind('/srv/p/cfg', '/srv/p/cfg', false)],
      want: /writable bind writes wherever it points/,
    },
    {
      name: 'a read-only same-path link stays the link, whoever made it (it grants nothing)',
      view: [bind('/home/u/p/cfg')],
      want: [bind('/home/u/p/cfg')],
    },
    {
      name: 'without a view a same-path link is a Landlock rule on its target: judged like any other',
      view: [bind('/home/u/p/cfg')],
      noView: true,
      want: /owned by uid 1000/,
    },
    {
      name: 'masks follow the host path wherever another bind shows it',
      view: [bind('/etc'), { kind: 'mask', dest: '/etc/shadow' }, bind('/usr/share/cfg', '/cfg')],
      want: [
        bind('/etc'),
        { kind: 'mask', dest: '/etc/shadow' },
        bind('/etc', '/cfg'),
        { kind: 'mask', dest: '/cfg/shadow', host: '/etc/shadow' },
      ],
    },
  ]
  cases.push({
    name: 'root’s link in root’s project is refused: a root caller’s sandbox writes there as root',
    view: [bind('/srv/p/cfg', '/cfg')],
    want: /lies outside the system directories/,
  })
  for (const c of cases)
    test(c.name, () => {
      if (c.want instanceof RegExp) assert.throws(() => resolveBindSources(c.view, host, !c.noView), c.want)
      else {
        assert.deepEqual(resolveBindSources(c.view, host), c.want)
        assert.deepEqual(resolveBindSources(c.want, host), c.want, 'idempotent')
      }
    })
})

// The finding as reproduced: a `--rw .` run plants links; later runs bind through them.
// Root's links in root's project are followed (only root could have made them… or a root
// caller's sandbox: see the README), and the default profile's masks follow /etc/shadow there;
// a user's are refused outright.
const plantedRuns = (
  run: (args: string[]) => { status: number | null; stdout: string; stderr: string },
  root: boolean,
) => {
  test('a planted link does not steer a later read-only bind at /etc/shadow', () => {
    const plant = run(['run', '--rw', '.', '--', 'sh', '-c', 'ln -sfn /etc cfg && ln -sfn /var out2'])
    assert.equal(plant.status, 0, plant.stderr)
    // --host-root: root's file powers, so only the view can keep /etc/shadow from it.
    const r = run([
      'run',
      ...(root ? ['--host-root'] : []),
      '--ro',
      './cfg:/cfg',
      '--',
      'cat',
      '/cfg/shadow',
      '/cfg/hostname',
    ])
    assert.notEqual(r.status, 0)
    assert.doesNotMatch(r.stdout, /root:/, 'read /etc/shadow through the planted link')
    if (!root) assert.match(r.stderr, /passes through the symlink .*cfg -> \/etc.*owned by uid/)
  })
  test('a planted link does not steer a later writable bind into the host /var', () => {
    const r = run(['run', '--rw', './out2/tmp', '--', 'true'])
    assert.equal(r.status, 125, r.stderr)
    assert.match(r.stderr, /passes through the symlink .*out2 -> \/var/)
  })
}

describe('planted links (root caller)', { skip: isRoot ? false : 'needs root' }, () => {
  // Root's own project directory: the links the sandbox plants are root's too.
  const project = `/srv/cordon-bind-sources-${process.pid}`
  mkdirSync(project, { recursive: true, mode: 0o755 })
  after(() => rmSync(project, { recursive: true, force: true }))
  plantedRuns((args) => cordon(args, { cwd: project }), true)

  test('the launcher refuses a symlink swapped in after the plan was compiled (ELOOP)', () => {
    const data = join(project, 'data')
    mkdirSync(data, { recursive: true })
    const plan = join(project, 'plan.bin')
    const c = cordon(['compile', '--ro', `${data}:/data`, '-o', plan], { cwd: project })
    assert.equal(c.status, 0, c.stderr)
    renameSync(data, `${data}.old`)
    symlinkSync('/etc', data)
    const r = spawnSync(LAUNCHER, [plan, '--', '/bin/cat', '/data/hostname'], {
      encoding: 'utf8',
      cwd: project,
    })
    assert.notEqual(r.status, 0, 'the bind followed a symlink swapped in after compile')
    assert.match(r.stdout + r.stderr, /ELOOP|symbolic links/)
  })
})

describe(
  'planted links (plain user)',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    const user = isRoot ? ensureTestUser() : { uid: 0, gid: 0 }
    // mkdtemp, not a predictable name: a link planted there would carry the chown elsewhere.
    const project = mkdtempSync('/tmp/cordon-bind-sources-user-')
    chmodSync(project, 0o755)
    if (isRoot) lchownSync(project, user.uid, user.gid)
    after(() => rmSync(project, { recursive: true, force: true }))
    plantedRuns((args) => cordonAs(user, args, project), false)
  },
)
