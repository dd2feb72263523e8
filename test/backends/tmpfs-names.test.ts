// A `mkdir:` or `symlink:` entry beneath a tmpfs is made in the tmpfs natively (the launcher
// mounts, then makes it); runc covered the bundle's rootfs names with its tmpfs, and gave the
// tmpfs the mode of the mount point mkdir -p had made. runc's `tmpcopyup` (export/oci-bundle.ts)
// makes the view the same. runsc ignores the option: there such a policy is refused.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { cordon, hasCommand, isRoot, projectDir } from '../helpers.js'

const skip = !isRoot ? 'needs root' : hasCommand('runc') || process.env.CI ? false : 'runc is not installed'

test(
  'runc shows names beneath a tmpfs, and its mode, as the native view does',
  { skip, timeout: 120_000 },
  () => {
    const dir = mkdtempSync('/tmp/cordon-tmpfs-names-')
    after(() => rmSync(dir, { recursive: true, force: true }))
    const policy = join(dir, 'policy.yaml')
    writeFileSync(
      policy,
      'version: 1\nextends: [minimal]\nfilesystem:\n  - tmpfs: { dest: /work, mode: "0750" }\n' +
        '  - mkdir: { dest: /work/x }\n  - symlink: { target: /somewhere, dest: /work/l }\n',
    )
    const look = ['sh', '-c', 'stat -c %a /work; ls /work; readlink /work/l']
    const want = '750\nl\nx\n/somewhere\n'
    for (const backend of ['native', 'runc']) {
      const r = cordon(['run', '-q', '--backend', backend, '-p', policy, '--', ...look], {
        cwd: projectDir(),
        timeout: 120_000,
      })
      assert.equal(r.status, 0, `${backend}: ${r.stderr}`)
      assert.equal(r.stdout, want, backend)
    }
    if (!hasCommand('runsc') && !process.env.CI) return
    // runsc ignores tmpcopyup: refused, naming the entry, rather than run without it.
    const g = cordon(['run', '-q', '--backend', 'gvisor', '-p', policy, '--', 'true'], {
      cwd: projectDir(),
      timeout: 120_000,
    })
    assert.equal(g.status, 125, g.stderr)
    assert.match(g.stderr, /`mkdir: \/work\/x` is in `tmpfs: \/work`, where --backend gvisor cannot make it/)
  },
)

// runc 1.1 gives a tmpfs the mode of the directory it covers (it stats the mount point, mounts,
// then chmods): `--tmpfs ./sub` over a host directory of mode 0700 was 0700 under runc, 1777
// natively, and a non-root `user:` could not write its own tmpfs (helper-125). The bundle now
// binds a directory of the tmpfs's mode there first (export/oci-bundle.ts modeUnder).
test(
  'under runc a tmpfs over a host directory keeps its own mode, and a non-root user writes it',
  { skip, timeout: 120_000 },
  () => {
    const dir = mkdtempSync('/tmp/cordon-tmpfs-mode-')
    after(() => rmSync(dir, { recursive: true, force: true }))
    chmodSync(dir, 0o755)
    mkdirSync(join(dir, 'sub'), { mode: 0o700 })
    chmodSync(join(dir, 'sub'), 0o700)
    const policy = join(dir, 'policy.yaml')
    writeFileSync(policy, 'version: 1\nextends: [default]\nuser: { uid: 1000, gid: 1000 }\n')
    const look = ['sh', '-c', 'stat -c %a sub && touch sub/mine && id -u']
    for (const backend of ['native', 'runc']) {
      const r = cordon(['run', '-q', '--backend', backend, '-p', policy, '--tmpfs', './sub', '--', ...look], {
        cwd: dir,
        timeout: 120_000,
      })
      assert.equal(r.status, 0, `${backend}: ${r.stderr}`)
      assert.equal(r.stdout, '1777\n1000\n', backend)
    }
    // The host's directory is as it was.
    assert.equal(statSync(join(dir, 'sub')).mode & 0o7777, 0o700)
  },
)
