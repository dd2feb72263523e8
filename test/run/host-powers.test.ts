// No sandbox holds host root's powers (issue 17): it cannot leave a set-id file behind, change a
// host device node or read the machine-wide /proc files, as root's caller or a plain user's.
import assert from 'node:assert/strict'
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

const project = `/tmp/cordon-powers-${process.pid}`

type Caller = (args: string[]) => { status: number | null; stdout: string; stderr: string }
const callers: [string, () => Caller][] = [
  ['as the caller', () => (args) => cordon(args, { cwd: project })],
  [
    'as a plain user',
    () => {
      const user = ensureTestUser()
      return (args) => cordonAs(user, args, project)
    },
  ],
]

/** Every way the kernel sets a set-id bit on a file, tried inside; prints one line per try. */
const PLANT = `
import os, shutil
def attempt(name, f):
    try:
        f(); print(name, "ok")
    except OSError as e:
        print(name, e.strerror)
shutil.copy("/bin/true", "planted")
attempt("chmod-suid", lambda: os.chmod("planted", 0o4755))
attempt("chmod-sgid", lambda: os.chmod("planted", 0o2755))
attempt("fchmod", lambda: os.fchmod(os.open("planted", os.O_RDONLY), 0o4755))
attempt("open-creat", lambda: os.close(os.open("created", os.O_CREAT | os.O_WRONLY, 0o4755)))
attempt("mknod", lambda: os.mknod("node", 0o104755))
attempt("chmod-plain", lambda: os.chmod("planted", 0o755))
`

describe('no host root powers', { skip: isRoot ? false : 'needs root to create the test user' }, () => {
  before(() => {
    mkdirSync(project, { recursive: true })
    chmodSync(project, 0o777)
    copyFileSync('/bin/true', join(project, 'true'))
  })
  after(() => rmSync(project, { recursive: true, force: true }))

  for (const [label, make] of callers)
    describe(label, () => {
      let run: Caller
      before(() => (run = make()))

      test('no set-id file can be planted through --rw', () => {
        const r = run(['run', '--rw', '.', '--', 'python3', '-c', PLANT])
        assert.equal(r.status, 0, r.stderr)
        for (const name of ['chmod-suid', 'chmod-sgid', 'fchmod', 'open-creat', 'mknod'])
          assert.match(r.stdout, new RegExp(`^${name} Operation not permitted$`, 'm'), r.stdout)
        assert.match(r.stdout, /^chmod-plain ok$/m)
        for (const name of ['planted', 'created', 'node'])
          try {
            assert.equal(statSync(join(project, name)).mode & 0o6000, 0, `${name} is set-id on the host`)
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
          }
        rmSync(join(project, 'planted'), { force: true })
      })

      test("the host's device nodes keep their metadata", () => {
        const before = ['/dev/null', '/dev/zero', '/dev/full'].map((d) => statSync(d))
        const r = run([
          'run',
          '--',
          'sh',
          '-c',
          'chmod 600 /dev/zero; chmod 0 /dev/null; touch -m -d 2001-01-01 /dev/full; echo x > /dev/null && echo written',
        ])
        assert.match(r.stdout, /^written$/m, r.stderr)
        assert.match(r.stderr, /Read-only file system/)
        const now = ['/dev/null', '/dev/zero', '/dev/full'].map((d) => statSync(d))
        now.forEach((st, i) => {
          assert.equal(st.mode, before[i]!.mode)
          assert.equal(st.mtimeMs, before[i]!.mtimeMs)
        })
      })

      test('a tmpfs holds no more than its share of the memory limit', () => {
        // 64M limit: /tmp, /var/tmp and /dev/shm share 32M, whether or not the caller has a cgroup.
        const r = run([
          'run',
          '--memory',
          '64M',
          '--',
          'sh',
          '-c',
          'dd if=/dev/zero of=/tmp/fill bs=1M count=40 2>&1; df -k /tmp /dev/shm | tail -2',
        ])
        assert.match(r.stdout, /No space left on device/, r.stdout + r.stderr)
        for (const line of r.stdout.trim().split('\n').slice(-2))
          assert.equal(line.split(/\s+/)[1], String(Math.floor((32 << 20) / 3 / 4096) * 4), line)
      })

      test("machine-wide /proc files are hidden, the sandbox's own are not", () => {
        const files = [
          'slabinfo',
          'timer_list',
          'vmallocinfo',
          'pagetypeinfo',
          'kcore',
          'keys',
          'sched_debug',
        ]
        const r = run([
          'run',
          '--',
          'sh',
          '-c',
          `for f in ${files.join(' ')}; do head -c1 /proc/$f >/dev/null 2>&1 && echo "$f readable"; done; head -1 /proc/self/status`,
        ])
        assert.equal(r.status, 0, r.stderr)
        assert.doesNotMatch(r.stdout, /readable/)
        assert.match(r.stdout, /^Name:/m)
      })
    })
})
