// The adversarial review of issue 17's identity change, kept as regressions: each test asserts
// the safe behaviour (audit/learn root reads, a planted bind symlink, --no-namespaces SETFCAP,
// gVisor chowning the host's /dev/null, verify as root).
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { cordon, ensureTestUser, isRoot } from '../helpers.js'

const base = `/tmp/cordon-attack-${process.pid}`
const secret = `/root/cordon-attack-secret-${process.pid}`

describe('identity attacks (root caller)', { skip: isRoot ? false : 'needs root' }, () => {
  mkdirSync(base, { recursive: true })
  after(() => {
    rmSync(base, { recursive: true, force: true })
    rmSync(secret, { force: true })
  })

  for (const mode of [
    ['run', '--audit'],
    ['learn', '-o', `${base}/learned.yaml`],
  ]) {
    test(`${mode.join(' ')} does not read a root-only host file`, () => {
      writeFileSync(secret, 'TOPSECRET\n', { mode: 0o600 })
      const r = cordon([...mode, '--', 'cat', secret], { cwd: base })
      assert.doesNotMatch(
        r.stdout,
        /TOPSECRET/,
        `${mode[0]} read ${secret}: the host root is an idmapped bind`,
      )
    })
  }

  test('a symlink planted by an earlier --rw run does not redirect a later --rw bind', () => {
    const project = `${base}/proj`
    // The link goes to /etc (visible in the default view); cron.d stands in for /etc/cron.d.
    const target = `/etc/cordon-attack-${process.pid}`
    mkdirSync(project, { recursive: true })
    mkdirSync(`${target}/cron.d`, { recursive: true, mode: 0o755 })
    after(() => rmSync(target, { recursive: true, force: true }))
    const plant = cordon(['run', '--rw', '.', '--', 'ln', '-s', target, 'cfg'], { cwd: project })
    assert.equal(plant.status, 0, plant.stderr)
    const r = cordon(
      ['run', '--rw', '.', '--rw', './cfg/cron.d', '--', 'sh', '-c', 'echo evil > cfg/cron.d/job'],
      {
        cwd: project,
      },
    )
    assert.equal(
      existsSync(`${target}/cron.d/job`),
      false,
      `the write landed in ${target}/cron.d as host root (${r.status})`,
    )
  })

  test('--no-namespaces cannot keep SETFCAP (host file capabilities) on writable binds', () => {
    const project = `${base}/caps`
    mkdirSync(project, { recursive: true })
    execFileSync('cp', ['/bin/true', `${project}/capped`])
    writeFileSync(
      `${base}/caps.yaml`,
      `extends: [default]\ncapabilities: [setfcap, fowner]\nfilesystem:\n  - rw: ${project}\n`,
    )
    cordon(
      [
        'run',
        '--no-namespaces',
        '-p',
        `${base}/caps.yaml`,
        '--',
        '/usr/sbin/setcap',
        'cap_setuid+ep',
        `${project}/capped`,
      ],
      {
        cwd: project,
      },
    )
    const caps = spawnSync('/usr/sbin/getcap', [`${project}/capped`], { encoding: 'utf8' }).stdout
    assert.doesNotMatch(caps, /cap_setuid/, `a host file capability was written: ${caps}`)
  })

  test(
    'cordon verify --backend gvisor leaves the host /dev/null owned by root',
    { skip: existsSync('/usr/bin/runsc') ? false : 'no runsc' },
    () => {
      const before = statSync('/dev/null')
      try {
        cordon(['verify', '--backend', 'gvisor', '--probe', 'mount'], { cwd: base })
        const now = statSync('/dev/null')
        assert.deepEqual(
          [now.uid, now.gid],
          [before.uid, before.gid],
          'runsc fchowned its stdin (/dev/null) to 65534',
        )
      } finally {
        chownSync('/dev/null', before.uid, before.gid)
      }
    },
  )

  test('cordon verify as root runs its probes (no setup failure)', () => {
    ensureTestUser()
    const r = cordon(['verify', '--probe', 'mount'], { cwd: base })
    assert.doesNotMatch(r.stdout, /ERROR/, r.stdout)
  })
})
