// A plan made by `cordon compile` and run later by cordon-exec: the compiler refused entries that
// would make a name in a host directory (test/run/view-host-names.test.ts), but the host can
// change before the run (the file a mount point stood on removed, its directory renamed, made a
// symlink or a bind of another host directory). The launcher then refuses to make the name
// (native/view.c may_make), naming the path and the fix, and the host is left as it was.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { lchownSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot, LAUNCHER } from '../helpers.js'
import { makeBundle, oci, ociSkip } from '../oci-runtime/bundle.js'

type User = { uid: number; gid: number } | undefined

/** Every name under dir, recursively: what the host sees. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((d) => join(d.parentPath, d.name).slice(dir.length))
    .sort()
}

/** proj/sub holds what the entries stand on; other/ and outside/ are empty host directories. */
function project(top: string, user: User): string {
  rmSync(top, { recursive: true, force: true })
  const proj = join(top, 'proj')
  mkdirSync(join(proj, 'sub', 'd'), { recursive: true })
  mkdirSync(join(proj, 'other'))
  mkdirSync(join(top, 'outside'))
  writeFileSync(join(proj, 'sub', 'conf'), 'host\n')
  symlinkSync('/etc', join(proj, 'sub', 'l'))
  if (user) for (const p of ['', ...tree(top)]) lchownSync(join(top, p), user.uid, user.gid)
  return proj
}

const ENTRIES = (proj: string) => [
  `file: { dest: ${proj}/sub/conf, content: "view" }`,
  `mkdir: ${proj}/sub/d`,
  `symlink: { target: /etc, dest: ${proj}/sub/l }`,
]

interface Case {
  name: string
  rootOnly?: boolean
  /** What changes on the host between the compile and the run; returns an undo. */
  change(top: string, proj: string): (() => void) | void
}

const CASES: Case[] = [
  {
    name: 'the file its mount point stood on is gone',
    change: (_, proj) => rmSync(join(proj, 'sub', 'conf')),
  },
  {
    name: 'the directory it stood in was renamed',
    change: (_, proj) => renameSync(join(proj, 'sub'), join(proj, 'moved')),
  },
  {
    name: 'the directory is now a symlink to another host directory',
    change: (_, proj) => {
      renameSync(join(proj, 'sub'), join(proj, 'moved'))
      symlinkSync('other', join(proj, 'sub'))
    },
  },
  {
    name: 'the directory is now a bind of a host directory',
    rootOnly: true,
    change: (top, proj) => {
      const at = join(proj, 'sub')
      assert.equal(spawnSync('mount', ['--bind', join(top, 'outside'), at]).status, 0)
      return () => spawnSync('umount', ['-l', at])
    },
  },
]

function cases(top: string, user: User) {
  const as = user ? { uid: user.uid, gid: user.gid } : {}
  const compile = (proj: string, plan: string, extra: string[] = []) => {
    const policy = join(top, 'policy.yaml')
    const lines = [
      'extends: [default]',
      'filesystem:',
      `  - rw: ${proj}`,
      ...ENTRIES(proj).map((e) => `  - ${e}`),
    ]
    writeFileSync(policy, `${lines.join('\n')}\n`)
    if (user) lchownSync(policy, user.uid, user.gid)
    const args = ['compile', '--policy', policy, ...extra, '-o', plan]
    const r = user ? cordonAs(user, args, top) : cordon(args, { cwd: top })
    assert.equal(r.status, 0, r.stderr)
  }
  const exec = (plan: string, script: string) =>
    spawnSync(LAUNCHER, [plan, '--', '/bin/sh', '-c', script], {
      ...as,
      cwd: top,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: '/usr/bin:/bin' },
    })

  test('the plan runs while the host is as it was compiled', () => {
    const proj = project(top, user)
    const plan = join(top, 'plan.bin')
    compile(proj, plan)
    const before = tree(proj)
    const r = exec(plan, `cat ${proj}/sub/conf; readlink ${proj}/sub/l`)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'view/etc\n')
    assert.deepEqual(tree(proj), before)
  })

  test('without namespaces a plan builds no view, and makes no name whatever changed', () => {
    const proj = project(top, user)
    const plan = join(top, 'plan.bin')
    compile(proj, plan, ['--no-namespaces', '--acknowledge', 'no-view'])
    renameSync(join(proj, 'sub'), join(proj, 'moved'))
    const before = tree(top)
    const r = exec(plan, 'echo ran')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'ran\n')
    assert.deepEqual(tree(top), before)
  })

  for (const c of CASES) {
    test(
      `${c.name}: cordon-exec refuses to make the name on the host, and says to compile again`,
      { skip: c.rootOnly && user ? 'mounting on the host needs root' : false },
      (t) => {
        const proj = project(top, user)
        const plan = join(top, 'plan.bin')
        compile(proj, plan)
        const undo = c.change(top, proj)
        if (undo) t.after(undo)
        const before = [tree(top), tree(join(top, 'outside'))]
        const r = exec(plan, 'echo ran')
        assert.equal(r.status, 125, `${r.stdout}${r.stderr}`)
        assert.equal(r.stdout, '')
        assert.match(
          r.stderr,
          /would be made in a host directory.*compile it again\) \/\S+\/sub(\/\S+)? failed: .*EXDEV/,
        )
        assert.deepEqual([tree(top), tree(join(top, 'outside'))], before, 'a name appeared on the host')
      },
    )
  }
}

describe(
  'a precompiled plan makes no name on a host that changed since (root)',
  { skip: isRoot ? false : 'needs root' },
  () => {
    const top = `/srv/cordon-plan-names-${process.pid}`
    after(() => rmSync(top, { recursive: true, force: true }))
    cases(top, undefined)
  },
)

describe(
  'a precompiled plan makes no name on a host that changed since (plain user)',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    const user = isRoot ? ensureTestUser() : undefined
    const top = `/tmp/cordon-plan-names-user-${process.pid}`
    if (user) {
      mkdirSync(top, { recursive: true })
      lchownSync(top, user.uid, user.gid)
    }
    after(() => rmSync(top, { recursive: true, force: true }))
    cases(top, user)
  },
)

// An OCI bundle is the exception, by its plan's word (BIND_HOST_NAMES): runc makes a missing mount
// point in the rootfs, and a nested mount's in the directory bound above it, and so does cordon-oci.
describe(
  'an OCI bundle still gets its mount points made in its rootfs and binds',
  { skip: ociSkip() },
  () => {
    test('a bind at a path the rootfs lacks, and one nested in it, are made as runc makes them', (t) => {
      const b = makeBundle(['/bin/sh', '-c', 'cat /new/dir/f /new/dir/nested/g'])
      // On a filesystem of its own, not the rootfs's: the launcher tells filesystems apart.
      const vol = join(b.dir, 'vol')
      t.after(() => {
        spawnSync('umount', ['-l', vol])
        b.cleanup()
      })
      mkdirSync(vol)
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'vol', vol]).status, 0)
      mkdirSync(join(vol, 'inner'))
      writeFileSync(join(vol, 'f'), 'f\n')
      writeFileSync(join(b.dir, 'g'), 'g\n')
      b.write((c) => {
        c.mounts!.push(
          { destination: '/new/dir', type: 'bind', source: vol, options: ['rbind', 'rw'] },
          {
            destination: '/new/dir/nested/g',
            type: 'bind',
            source: join(b.dir, 'g'),
            options: ['bind', 'ro'],
          },
        )
      })
      const r = oci(b, ['run', `names-${process.pid}`])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, 'f\ng\n')
      assert.deepEqual(tree(join(b.dir, 'rootfs', 'new')), ['/dir'])
      assert.deepEqual(tree(vol), ['/f', '/inner', '/nested', '/nested/g'])
    })
  },
)
