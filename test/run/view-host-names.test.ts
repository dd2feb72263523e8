// attack9's view findings, on the real kernel through the CLI, as root and as the plain user:
// 1. the view's entries under a bind made their mount points (or names) in the host's directory;
// 2. a mask under a `rw:` bind left the files a program creates beside it without any right;
// 3. a mask reached through a symlink did not hide its target (Landlock granted it whole, and
//    without a mount namespace nothing hid it). Also: a mask under a bind shown at another place
//    (`ro: /srv/data:/data`, `mask: /data/secret`) got no mount at all.
import assert from 'node:assert/strict'
import { chownSync, lchownSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

type Run = (args: string[]) => { status: number | null; stdout: string; stderr: string }

const NO_NS = ['--no-namespaces', '--acknowledge', 'no-view']

/** Every name under dir, recursively, with a file's content: what the host sees. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((d) => join(d.parentPath, d.name).slice(dir.length))
    .sort()
}

function project(dir: string, owner?: { uid: number; gid: number }): void {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'sub'), { recursive: true })
  mkdirSync(join(dir, 'real'))
  mkdirSync(join(dir, 'data'))
  writeFileSync(join(dir, 'sub', 'a'), 'masked-a\n')
  writeFileSync(join(dir, 'sub', 'b'), 'plain-b\n')
  writeFileSync(join(dir, 'real', 'secret'), 'masked-secret\n')
  writeFileSync(join(dir, 'data', 'secret'), 'masked-data\n')
  writeFileSync(join(dir, 'conf'), 'host-conf\n')
  symlinkSync('real', join(dir, 'link'))
  symlinkSync(join(dir, 'data'), join(dir, 'abs'))
  symlinkSync('/etc', join(dir, 'out'))
  if (owner) for (const p of ['', ...tree(dir)]) lchownSync(join(dir, p), owner.uid, owner.gid)
}

function policy(dir: string, name: string, lines: string[]): string {
  const file = join(dir, '..', `${name}.yaml`)
  writeFileSync(
    file,
    ['extends: [default]', 'filesystem:', `  - rw: ${dir}`, ...lines.map((l) => `  - ${l}`), ''].join('\n'),
  )
  return file
}

function cases(run: Run, dir: string) {
  test('an entry under a rw bind that would make its name in the host directory is refused, naming it and the fix', () => {
    const before = tree(dir)
    const entries = [
      `file: { dest: ${dir}/new.conf, content: "x" }`,
      `mkdir: ${dir}/newdir`,
      `symlink: { target: /etc, dest: ${dir}/lnk }`,
      `tmpfs: ${dir}/t/u`,
      `proc: ${dir}/p`,
      `dev: ${dir}/d`,
      `ro: /usr/share:${dir}/share`,
    ]
    for (const entry of entries) {
      const r = run(['run', '--policy', policy(dir, 'one', [entry]), '--', 'true'])
      assert.equal(r.status, 125, `${entry}: ${r.stderr}`)
      assert.match(r.stderr, /would leave .* behind in the host directory .*shown writable by `rw: /, entry)
      assert.match(r.stderr, /Create it on the host first .*\(`(touch|mkdir -p|ln -s)/, entry)
    }
    assert.match(
      run([
        'run',
        '--policy',
        policy(dir, 'one', [`file: { dest: ${dir}/link/made, content: "x" }`]),
        '--',
        'true',
      ]).stderr,
      // A link in the writable bind could have been planted by an earlier run: not followed
      // (policy/view-dests.ts), where it was judged where it leads.
      new RegExp(
        `\`file: ${dir}/link/made\`: its path passes through the symlink ${dir}/link -> real .*inside the writable bind ${dir}`,
      ),
      'a link in the writable bind is not followed',
    )
    assert.deepEqual(tree(dir), before, 'the host directory changed')
  })

  test('under a read-only bind the same is refused before the launch (was EROFS at the launcher)', () => {
    const file = join(dir, '..', 'ro.yaml')
    writeFileSync(
      file,
      `extends: [default]\nfilesystem:\n  - ro: ${dir}\n  - file: { dest: ${dir}/x/new.conf, content: "x" }\n`,
    )
    const r = run(['run', '--policy', file, '--', 'true'])
    assert.equal(r.status, 125, r.stderr)
    assert.match(
      r.stderr,
      /needs .*new\.conf to exist in the read-only bind `ro: .*`mkdir -p .*\/x && touch .*new\.conf`/,
    )
  })

  test('entries on names the host directory has leave it as it was', () => {
    const before = tree(dir)
    const file = policy(dir, 'existing', [
      `file: { dest: ${dir}/conf, content: "view-conf" }`,
      `tmpfs: ${dir}/data`,
      `mask: ${dir}/sub/none`,
    ])
    const r = run(['run', '--policy', file, '--', 'sh', '-c', `cat ${dir}/conf; ls ${dir}/data | wc -l`])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'view-conf0\n')
    assert.deepEqual(tree(dir), before)
  })

  for (const mode of [[], NO_NS]) {
    const named = mode.length ? 'without namespaces' : 'in a mount namespace'
    test(`${named}: a mask through a symlink hides its target, inside the bind and out of it`, () => {
      const file = policy(dir, 'links', [
        `mask: ${dir}/link/secret`,
        `mask: ${dir}/abs/secret`,
        `mask: ${dir}/out/hostname`,
      ])
      const r = run([
        'run',
        ...mode,
        '--policy',
        file,
        '--',
        'sh',
        '-c',
        `for f in ${dir}/link/secret ${dir}/real/secret ${dir}/abs/secret ${dir}/data/secret ${dir}/out/hostname /etc/hostname; ` +
          'do cat $f 2>/dev/null && echo "read $f"; done; cat /etc/passwd >/dev/null && echo passwd',
      ])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, 'passwd\n', 'a masked target was read')
    })

    test(`${named}: a mask under a rw bind hides its path; files made beside it`, () => {
      const file = policy(dir, 'grow', [`mask: ${dir}/sub/a`])
      const script =
        `cat ${dir}/sub/a 2>/dev/null && echo read-a; cat ${dir}/sub/b; ` +
        `echo n1 > ${dir}/sub/new && cat ${dir}/sub/new && rm ${dir}/sub/new; ` +
        `echo n2 > ${dir}/new && cat ${dir}/new && rm ${dir}/new; true`
      const r = run(['run', ...mode, '--policy', file, '--', 'sh', '-c', script])
      assert.equal(r.status, 0, r.stderr)
      // In a view the mask's mount hides it and the tree keeps `rw` for new files; without one
      // Landlock alone hides it, granting the existing children one by one (README, masks).
      assert.equal(r.stdout, mode.length ? 'plain-b\n' : 'plain-b\nn1\nn2\n')
      if (!mode.length) assert.match(r.stderr, /only the mount view hides it/)
    })
  }

  test('a mask under a bind shown at another place is mounted there', () => {
    const file = join(dir, '..', 'moved.yaml')
    writeFileSync(
      file,
      `extends: [default]\nfilesystem:\n  - ro: ${dir}/data:/data\n  - mask: /data/secret\n`,
    )
    const p = run(['plan', '--policy', file])
    assert.match(p.stdout + p.stderr, /bind\s+\/dev\/null -> \/data\/secret/)
    const r = run(['run', '--policy', file, '--', 'sh', '-c', 'cat /data/secret 2>/dev/null || echo hidden'])
    assert.equal(r.stdout, 'hidden\n', r.stderr)
  })
}

describe(
  'the view makes no names on the host; masks hide what they name (root)',
  { skip: isRoot ? false : 'needs root' },
  () => {
    const dir = `/srv/cordon-view-names-${process.pid}/p`
    project(dir)
    after(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
    cases((args) => cordon(args, { cwd: dir }), dir)
  },
)

describe(
  'the view makes no names on the host; masks hide what they name (plain user)',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    const user = isRoot ? ensureTestUser() : { uid: 0, gid: 0 }
    const dir = `/tmp/cordon-view-names-user-${process.pid}/p`
    if (isRoot) {
      project(dir, user)
      chownSync(join(dir, '..'), user.uid, user.gid)
    }
    after(() => rmSync(join(dir, '..'), { recursive: true, force: true }))
    cases((args) => cordonAs(user, args, dir), dir)
  },
)
