// Paths whose meaning depends on who resolves them: /proc/self, /proc/thread-self, and the links
// that lead there (/etc/mtab -> ../proc/self/mounts, /dev/fd -> /proc/self/fd, /dev/stdin), and
// proc's magic links (/proc/PID/fd/N, cwd, exe). Learn and audit used to resolve them as the
// supervisor (node) or the launcher: audit reported `symlink /proc/self is not in the view` with
// the supervisor's pid as the fix, and learn judged a read of /etc/mtab failed (the launcher,
// outside the sandbox's pid namespace, has no /proc/self there), so the learned policy broke it.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { resolveOnHost } from '../../src/learn/paths.js'
import { cordon, projectDir } from '../helpers.js'

const hasMtab = (() => {
  try {
    return readlinkSync('/etc/mtab').includes('proc/self')
  } catch {
    return false
  }
})()

describe("the caller's own proc entries", () => {
  test('resolveOnHost follows /proc/self as the calling thread, and stops at magic links', (t) => {
    const child = spawn('sleep', ['30'], { cwd: '/usr', stdio: 'ignore' })
    t.after(() => child.kill())
    const pid = child.pid!
    const self = resolveOnHost('/proc/self/cwd/bin', false, pid)
    assert.deepEqual(self, { real: `/proc/${pid}/cwd/bin`, links: [], magic: true })
    const thread = resolveOnHost('/proc/thread-self/fd/0', false, pid)
    assert.equal(thread.real, `/proc/${pid}/task/${pid}/fd/0`)
    assert.equal(thread.magic, true)
    // Without the caller, the walk stops: it never becomes the resolving process's own.
    assert.deepEqual(resolveOnHost('/proc/self/mounts'), {
      real: '/proc/self/mounts',
      links: [],
      magic: true,
    })
    assert.equal(resolveOnHost('/proc/self/status', false, pid).real, `/proc/${pid}/status`)
    const fd = resolveOnHost('/dev/fd/0', false, pid)
    assert.ok(!fd.links.some(([l]) => l === '/proc/self'), JSON.stringify(fd))
    assert.equal(fd.real, `/proc/${pid}/fd/0`)
    assert.equal(fd.magic, true)
  })

  test(
    'learn: a read through /etc/mtab and /dev/stdin is learned, and runs enforced',
    { skip: !hasMtab && 'no /etc/mtab link to /proc/self' },
    () => {
      const dir = projectDir()
      writeFileSync(join(dir, 'in.txt'), 'from stdin\n')
      const out = join(dir, 'own-proc.yaml')
      const script = 'grep -c . /etc/mtab >/dev/null && cat /dev/stdin < in.txt'
      const learned = cordon(['learn', '-o', out, '--', 'sh', '-c', script], { timeout: 60_000 })
      assert.equal(learned.status, 0, learned.stderr)
      assert.equal(learned.stdout, 'from stdin\n')
      const yaml = readFileSync(out, 'utf8')
      assert.doesNotMatch(yaml, /dest: \/proc\/self\b/)
      assert.doesNotMatch(yaml, /failed while learning[^]*\/etc\/mtab/)
      const enforced = cordon(['run', '-p', out], { timeout: 60_000 })
      assert.equal(enforced.status, 0, enforced.stderr)
      assert.equal(enforced.stdout, 'from stdin\n')
    },
  )

  test(
    'audit: links into /proc/self are judged as the program sees them',
    { skip: !hasMtab && 'no /etc/mtab link to /proc/self' },
    () => {
      const r = cordon(
        [
          'run',
          '--audit',
          '--',
          'sh',
          '-c',
          'cat /etc/mtab /dev/stdin </dev/null >/dev/null; ls /proc/self/cwd/ >/dev/null',
        ],
        { timeout: 60_000 },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, /would have allowed everything/)
      assert.doesNotMatch(r.stderr, /\/proc\/self/)
    },
  )
})
