// Issue 18, finding 9: a bind of `/` (or of any ancestor of /sys, /dev, /proc) keeps the host's
// kernel interfaces from the sandbox unless the view names them, says what it exposes, and
// statements that cannot be honoured are errors.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, lchownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { type ResolvedPolicy, resolvePolicy, type ViewEntry } from '../../src/policy/resolve.js'
import { guardWideBinds, hostKernelMounts } from '../../src/policy/wide-binds.js'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

const MOUNTINFO = [
  '22 1 254:0 / / rw - ext4 /dev/vda rw',
  '23 22 0:21 / /sys rw - sysfs sysfs rw',
  '24 23 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw',
  '25 24 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
  '26 22 0:6 / /dev rw - devtmpfs devtmpfs rw',
  '27 26 0:23 / /dev/pts rw - devpts devpts rw',
  '28 22 0:20 / /proc rw - proc proc rw',
  '29 22 0:40 / /srv/my\\040data rw - ext4 /dev/vdb rw',
].join('\n')

const policy = (filesystem: object[], extra: object = {}) =>
  resolvePolicy({ policy: { filesystem, ...extra } as never, baseDir: '/', label: 'test' })
/** A resolved policy with exactly these entries (resolution itself guards with this host's mounts). */
const raw = (filesystem: ViewEntry[], pid = true): ResolvedPolicy => {
  const p = policy([])
  return { ...p, filesystem, namespaces: { ...p.namespaces, pid } }
}
const rwRoot: ViewEntry = { kind: 'bind', src: '/', dest: '/', readOnly: false, optional: false }

describe('wide binds keep kernel mounts from the sandbox', () => {
  test('the host’s kernel mounts, outermost only', () => {
    assert.deepEqual(hostKernelMounts(MOUNTINFO), [
      { point: '/sys', type: 'sysfs' },
      { point: '/dev', type: 'devtmpfs' },
      { point: '/proc', type: 'proc' },
    ])
  })

  test('rw: / gets /sys read-only, a private /dev and a fresh /proc, and a warning', () => {
    const g = guardWideBinds(raw([rwRoot]), hostKernelMounts(MOUNTINFO))
    assert.deepEqual(g.filesystem.slice(1), [
      { kind: 'bind', src: '/sys', dest: '/sys', readOnly: true, optional: true },
      { kind: 'dev', dest: '/dev' },
      { kind: 'proc', dest: '/proc' },
    ])
    assert.match(
      g.warnings.join('\n'),
      /rw: \/ is a wide bind.*kept from it: \/sys read-only, \/dev private, \/proc a fresh proc/,
    )
  })

  test('what the view names itself stays as named (dev: /dev, rw: /sys/fs/cgroup/x)', () => {
    const g = guardWideBinds(
      raw([
        rwRoot,
        { kind: 'dev', dest: '/dev' },
        { kind: 'proc', dest: '/proc' },
        { kind: 'bind', src: '/sys', dest: '/sys', readOnly: false, optional: false },
      ]),
      hostKernelMounts(MOUNTINFO),
    )
    assert.equal(g.filesystem.length, 4, 'nothing added')
    assert.match(g.warnings.join('\n'), /rw: \/sys gives the sandbox write access to the host's sysfs/)
    assert.match(g.warnings.join('\n'), /\/sys WRITABLE \(named by the policy\)/)
  })

  test('a bind moved elsewhere is guarded at its own destination', () => {
    const host: ViewEntry = { kind: 'bind', src: '/', dest: '/host', readOnly: true, optional: false }
    const g = guardWideBinds(raw([host], false), hostKernelMounts(MOUNTINFO))
    assert.deepEqual(
      g.filesystem.slice(1).map((e) => `${e.kind} ${e.dest}`),
      ['bind /host/sys', 'dev /host/dev', 'bind /host/proc'],
    )
  })

  test('rw: / without a mount namespace: a Landlock rule per entry, the kernel mounts read-only', () => {
    const tree: Record<string, string[]> = { '/': ['dev', 'etc', 'sys', 'srv'], '/srv': ['my data'] }
    const g = guardWideBinds(
      { ...raw([rwRoot]), namespaces: { ...raw([]).namespaces, mount: false } },
      hostKernelMounts(MOUNTINFO),
      (dir) => tree[dir] ?? [],
    )
    assert.deepEqual(
      g.filesystem.map((e) => (e.kind === 'bind' ? `${e.readOnly ? 'ro' : 'rw'} ${e.src}` : e.kind)),
      ['ro /dev', 'rw /etc', 'ro /sys', 'rw /srv'],
    )
    assert.match(g.warnings.join('\n'), /without a mount namespace .* read-only: \/sys, \/dev, \/proc/)
  })

  const errors: { name: string; filesystem: object[]; extra?: object; want: RegExp }[] = [
    { name: 'tmpfs: /', filesystem: [{ tmpfs: '/' }], want: /`tmpfs: \/` cannot be honoured/ },
    { name: 'proc: /', filesystem: [{ proc: '/' }], want: /`proc: \/` cannot be honoured/ },
    { name: 'mask: /', filesystem: [{ mask: '/' }], want: /`mask: \/` cannot be honoured/ },
  ]
  for (const c of errors)
    test(`${c.name} is a policy error naming the fix`, () => {
      assert.throws(() => policy(c.filesystem, c.extra), c.want)
    })
})

// The options of the last mount at each place, as the sandbox sees them (the top one counts).
const mountOptions = `awk '$5=="/sys"||$5=="/sys/fs/cgroup"||$5=="/dev"{o[$5]=$6" "$(NF-2)} END{for(k in o)print k, o[k]}' /proc/self/mountinfo`

function runsAs(
  label: string,
  run: (args: string[]) => { status: number | null; stdout: string; stderr: string },
) {
  test(`${label}: --rw / cannot write the host's cgroupfs or sysfs, and says what it exposes`, () => {
    const r = run(['run', '--rw', '/', '--', 'sh', '-c', mountOptions])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /warning: policy: rw: \/ is a wide bind/)
    const seen = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0], l]),
    )
    assert.match(seen['/sys'] ?? '', /^\/sys ro,/, r.stdout)
    assert.match(seen['/sys/fs/cgroup'] ?? '', /^\/sys\/fs\/cgroup ro,/, r.stdout)
    assert.match(seen['/dev'] ?? '', /^\/dev \S+ tmpfs$/, `the host's devtmpfs is shown: ${r.stdout}`)
  })
  // The probes' mount points go on the view's own /dev: a fresh host has no /.cordon-verify,
  // which the launcher (rightly) would not make in the host's `/`.
  test(`${label}: verify --rw / blocks kernel-knobs and dev-write`, () => {
    const before = existsSync('/.cordon-verify')
    const r = run(['verify', '--rw', '/', '--json', '--probe', 'kernel-knobs', '--probe', 'dev-write'])
    const out = JSON.parse(r.stdout || '{}') as {
      failures: number
      results: { probe: string; outcome: string }[]
    }
    assert.equal(out.failures, 0, `${r.stdout}${r.stderr}`)
    assert.deepEqual(
      out.results.map((x) => `${x.probe} ${x.outcome}`),
      ['kernel-knobs blocked', 'dev-write blocked'],
    )
    if (!before) assert.ok(!existsSync('/.cordon-verify'), 'verify left its mount points in the host root')
  })
}

describe('wide binds on the real kernel (root caller)', { skip: isRoot ? false : 'needs root' }, () => {
  const project = `/srv/cordon-wide-${process.pid}`
  mkdirSync(project, { recursive: true })
  after(() => rmSync(project, { recursive: true, force: true }))
  const run = (args: string[]) => cordon(args, { cwd: project, timeout: 300_000 })
  runsAs('root', run)
  runsAs('root --host-root', (args) => run([args[0]!, '--host-root', ...args.slice(1)]))
  for (const backend of ['runc', 'gvisor']) {
    const has = spawnSync('which', [backend === 'gvisor' ? 'runsc' : 'runc']).status === 0
    test(
      `--backend ${backend}: verify --rw / blocks kernel-knobs`,
      { skip: has ? false : `${backend} is not installed`, timeout: 300_000 },
      () => {
        const before = existsSync('/.cordon-verify')
        const r = run(['verify', '--backend', backend, '--rw', '/', '--json', '--probe', 'kernel-knobs'])
        const out = JSON.parse(r.stdout || '{}') as { failures: number }
        assert.equal(out.failures, 0, `${r.stdout}${r.stderr}`)
        if (!before)
          assert.ok(!existsSync('/.cordon-verify'), `${backend} left mount points in the host root`)
      },
    )
    // runc and runsc make a missing mount point as the launcher would, through the writable bind
    // into the host's directory, where it stayed after the run: refused as natively, up front.
    test(
      `--backend ${backend}: a view that would make a name in a host directory is refused, nothing made`,
      { skip: has ? false : `${backend} is not installed`, timeout: 120_000 },
      () => {
        const name = `/.cordon-wide-${process.pid}`
        const r = run([
          'run',
          '--backend',
          backend,
          '--rw',
          '/',
          '--ro',
          `/etc/hostname:${name}/h`,
          '--',
          'true',
        ])
        assert.equal(r.status, 125, r.stderr)
        assert.match(r.stderr, new RegExp(`would leave ${name} behind in the host directory /`))
        assert.ok(!existsSync(name), `${backend} made ${name} on the host`)
      },
    )
  }
})

describe(
  'wide binds on the real kernel (plain user)',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    const user = isRoot ? ensureTestUser() : { uid: 0, gid: 0 }
    // mkdtemp, not a predictable name: a link planted there would carry the chown elsewhere.
    const project = mkdtempSync('/tmp/cordon-wide-user-')
    chmodSync(project, 0o755)
    if (isRoot) lchownSync(project, user.uid, user.gid)
    after(() => rmSync(project, { recursive: true, force: true }))
    runsAs('plain user', (args) => cordonAs(user, args, project, 300_000))
  },
)
