// The runtime backends make nothing in a host directory that the policy did not ask for. runc and
// runsc make a missing mount point, working directory or /dev where the view leads, as cordon's
// launcher would; through a bind that is the host's directory, where it stayed after the run.
// runsc's gofer makes a bind's mount point on the host even beneath gVisor's own tmpfs and /dev
// (they exist only in its kernel) and through a read-only bind. Each case is refused up front,
// naming the fix, or runs with nothing left behind (an attack helper found them, 2026-12-04).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon, hasCommand, isRoot, projectDir } from '../helpers.js'

const BACKENDS = [
  { name: 'runc', present: hasCommand('runc') },
  { name: 'gvisor', present: hasCommand('runsc') },
] as const
const skipFor = (present: boolean) =>
  !isRoot ? 'needs root' : present || process.env.CI ? false : 'the runtime is not installed'

/** A fresh name in the host's root, which must not exist after the run. */
const rootName = (tag: string) => `/.cordon-host-names-${tag}-${process.pid}`

const run = (args: string[]) => cordon(['run', '-q', ...args], { cwd: projectDir(), timeout: 120_000 })

describe('a runtime backend makes nothing in a host directory', () => {
  const scratch = mkdtempSync('/tmp/cordon-host-names-')
  chmodSync(scratch, 0o755)
  after(() => rmSync(scratch, { recursive: true, force: true }))

  for (const { name: backend, present } of BACKENDS) {
    const skip = skipFor(present)

    // /mnt is on every Debian host: the tmpfs's own mount point exists.
    test(`${backend}: a bind beneath a tmpfs under \`ro: /\``, { skip, timeout: 120_000 }, () => {
      const name = `/mnt/.cordon-host-names-${backend}-${process.pid}`
      const r = run([
        '--backend',
        backend,
        '--ro',
        '/',
        '--tmpfs',
        '/mnt',
        '--ro',
        `/etc/hostname:${name}`,
        '--',
        'cat',
        name,
      ])
      if (backend === 'gvisor') {
        // gVisor's tmpfs is its own kernel's: the gofer would make the name in the host's /mnt.
        assert.equal(r.status, 125, r.stderr)
        assert.match(r.stderr, /gVisor's gofer makes the mount points of binds on the host/)
      } else assert.equal(r.status, 0, r.stderr) // runc's tmpfs is a real mount: the name is made there
      assert.ok(!existsSync(name), `${backend} made ${name} on the host`)
    })

    test(`${backend}: a working directory missing under a bind`, { skip, timeout: 120_000 }, () => {
      const name = rootName(`cwd-${backend}`)
      const r = run(['--backend', backend, '--rw', '/', '--cwd', `${name}/x`, '--', 'true'])
      assert.equal(r.status, 125, r.stderr)
      assert.match(r.stderr, new RegExp(`chdir ${name}/x: no such directory in the sandbox's view`))
      assert.ok(!existsSync(name), `${backend} made ${name} on the host`)
    })

    test(`${backend}: an entry a later one replaces is not mounted`, { skip, timeout: 120_000 }, () => {
      const host = mkdtempSync(join(scratch, `replaced-${backend}-`))
      chmodSync(host, 0o755)
      const policy = join(scratch, `replaced-${backend}.yaml`)
      writeFileSync(
        policy,
        `extends: [default]\nfilesystem:\n  - rw: { src: ${host}, dest: /data }\n` +
          `  - file: { dest: /data/new, content: "shown" }\n  - mask: /data/new\n`,
      )
      const r = run(['--backend', backend, '-p', policy, '--', 'sh', '-c', 'cat /data/new || echo absent'])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.trim(), 'absent', 'the replaced file was shown')
      assert.deepEqual(readdirSync(host), [])
    })
  }

  for (const { name: backend, present } of BACKENDS) {
    const skip = skipFor(present)

    // The bundle's rootfs holds the policy's `symlink:` entries: one beneath another was made
    // wherever the link pointed, as root (a second attack, 2026-12-04). An entry named through
    // one is placed where it leads in the view (policy/view-dests.ts), as natively: here the
    // bundle's own rootfs, never the host's directory of that name.
    test(`${backend}: nothing is made through a \`symlink:\` entry`, { skip, timeout: 120_000 }, () => {
      const target = mkdtempSync(join(scratch, `link-target-${backend}-`))
      const policy = join(scratch, `links-${backend}.yaml`)
      writeFileSync(
        policy,
        `extends: [minimal]\nfilesystem:\n  - symlink: { target: ${target}, dest: /a }\n  - mkdir: { dest: /a/evil }\n`,
      )
      const r = run(['--backend', backend, '-p', policy, '--', 'test', '-d', '/a/evil'])
      if (backend === 'gvisor') {
        // Placed beneath the view's /tmp: runsc's tmpfs starts empty (no tmpcopyup).
        assert.equal(r.status, 125, r.stderr)
        assert.match(
          r.stderr,
          /`mkdir: \/a\/evil` is in `tmpfs: \/tmp`, where --backend gvisor cannot make it/,
        )
      } else assert.equal(r.status, 0, r.stderr)
      assert.deepEqual(readdirSync(target), [])
    })

    // A mask moves with the bind that shows its file elsewhere (`--ro /etc:/cfg`): judged by the
    // host path it hides, it was left out (the host has no /cfg/shadow to mask).
    test(`${backend}: a mask follows its file to where a bind shows it`, { skip, timeout: 120_000 }, () => {
      const r = run(['--backend', backend, '--ro', '/etc:/cfg', '--', 'sh', '-c', 'wc -c < /cfg/shadow'])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.trim(), '0', "the host's /etc/shadow was shown")
    })

    test(
      `${backend}: a working directory reached through the view's links`,
      { skip, timeout: 120_000 },
      () => {
        const outer = mkdtempSync(join(scratch, `cwd-outer-${backend}-`))
        const proj = mkdtempSync(join(scratch, `cwd-proj-${backend}-`))
        chmodSync(outer, 0o755)
        chmodSync(proj, 0o755)
        for (const d of ['zz', 'proj', 'real']) mkdirSync(join(outer, d))
        symlinkSync('../zz', join(proj, 'lnk'))
        symlinkSync('/w/real', join(proj, 'lnk2'))
        const base = [
          '--backend',
          backend,
          '--profile',
          'minimal',
          '--rw',
          `${outer}:/w`,
          '--rw',
          `${proj}:/w/proj`,
        ]
        const missing = run([...base, '--cwd', '/w/proj/lnk/new', '--', 'pwd'])
        assert.equal(missing.status, 125, missing.stderr)
        assert.match(missing.stderr, /chdir \/w\/zz\/new: no such directory/)
        assert.deepEqual(readdirSync(join(outer, 'zz')), [])
        const there = run([...base, '--cwd', '/w/proj/lnk2', '--', 'pwd'])
        assert.equal(there.status, 0, there.stderr)
        assert.equal(there.stdout.trim(), '/w/real')
      },
    )
  }

  // gVisor mounts its own devpts at /dev/pts: under a bind at /dev its gofer made it (0777) in
  // the host directory (a third attack, 2026-12-04).
  test(
    'gvisor: a bind at /dev gets no /dev/pts made in it',
    { skip: skipFor(BACKENDS[1].present), timeout: 120_000 },
    () => {
      const dev = mkdtempSync(join(scratch, 'dev-'))
      chmodSync(dev, 0o755)
      const r = run(['--backend', 'gvisor', '--rw', `${dev}:/dev`, '--', 'true'])
      assert.equal(r.status, 125, r.stderr)
      assert.match(r.stderr, new RegExp(`\`dev: /dev/pts\` would leave ${dev}/pts behind`))
      assert.deepEqual(readdirSync(dev), [])
    },
  )

  test(
    'runc: a host directory bound at / with no /dev of the view keeps no devices',
    { skip: skipFor(BACKENDS[0].present), timeout: 120_000 },
    () => {
      const root = mkdtempSync(join(scratch, 'root-'))
      chmodSync(root, 0o755)
      mkdirSync(join(root, 'usr'))
      mkdirSync(join(root, 'proc'))
      for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(root, l))
      const policy = join(scratch, 'root.yaml')
      const text = `filesystem:\n  - rw: { src: ${root}, dest: / }\n  - ro: /usr\n  - proc: /proc\n`
      writeFileSync(policy, text)
      const refused = run(['--backend', 'runc', '-p', policy, '--', '/usr/bin/true'])
      assert.equal(refused.status, 125, refused.stderr)
      assert.match(refused.stderr, new RegExp(`would leave ${root}/dev behind`))
      assert.ok(!existsSync(join(root, 'dev')))
      // With the mount point there, runc's devices go on a tmpfs of the view's, not in it.
      // A `mkdir: /dev` mounts nothing there: the same.
      writeFileSync(policy, `${text}  - mkdir: { dest: /dev }\n`)
      assert.equal(run(['--backend', 'runc', '-p', policy, '--', '/usr/bin/true']).status, 125)
      assert.ok(!existsSync(join(root, 'dev')))
      writeFileSync(policy, text)
      mkdirSync(join(root, 'dev'))
      const r = run(['--backend', 'runc', '-p', policy, '--', '/usr/bin/sh', '-c', 'ls /dev'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /\bnull\b/)
      assert.deepEqual(readdirSync(join(root, 'dev')), [])
    },
  )

  test(
    'gvisor: verify under `rw: /` leaves its probes nowhere on the host',
    { skip: skipFor(BACKENDS[1].present), timeout: 300_000 },
    () => {
      const before = ['/.cordon-verify', '/dev/.cordon-verify'].filter((p) => existsSync(p))
      const r = cordon(
        [
          'verify',
          '--backend',
          'gvisor',
          '--rw',
          '/',
          '--json',
          '--probe',
          'kernel-knobs',
          '--probe',
          'dev-write',
        ],
        {
          cwd: projectDir(),
          timeout: 300_000,
        },
      )
      const out = JSON.parse(r.stdout || '{}') as { failures?: number }
      assert.equal(out.failures, 0, `${r.stdout}${r.stderr}`)
      const after = ['/.cordon-verify', '/dev/.cordon-verify'].filter((p) => existsSync(p))
      assert.deepEqual(after, before)
    },
  )
})

describe('the bundle writer follows no link and waits on no FIFO', () => {
  const scratch = mkdtempSync('/tmp/cordon-bundle-writer-')
  after(() => rmSync(scratch, { recursive: true, force: true }))

  // A sandbox given the project could swap the output directory for a link between exports.
  test('an output directory that is a symlink is refused, nothing written where it points', () => {
    const target = join(scratch, 'target')
    mkdirSync(target)
    symlinkSync(target, join(scratch, 'out'))
    const r = cordon(['export', '--to', 'oci-bundle', '-o', join(scratch, 'out'), '--', 'true'], {
      cwd: projectDir(),
    })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /is a symlink: give the directory itself/)
    assert.deepEqual(readdirSync(target), [])
  })

  test('a FIFO left at a name fails the export at once', () => {
    const out = join(scratch, 'fifo')
    mkdirSync(out)
    assert.equal(spawnSync('mkfifo', [join(out, 'config.json')]).status, 0)
    const r = cordon(['export', '--to', 'oci-bundle', '-o', out, '--', 'true'], {
      cwd: projectDir(),
      timeout: 30_000,
    })
    assert.notEqual(r.status, 0)
    assert.equal(r.signal, null, 'the export hung on the FIFO')
    assert.match(r.stderr, /ENXIO/)
  })
})
