// The sandbox's init (pid 1 of its pid namespace) holds the launcher's channels: the command's
// wait status, the freeze requests, the events. It shares the command's ids, so only its
// dumpability (and, while it has them, its capabilities) keeps a command without Landlock (an
// older kernel, a container with org.cordon.landlock=off) out of /proc/1/fd. Init became
// non-dumpable only when its vfork returned, after the command's execve: a command keeping every
// capability could take init's fds in that window. strace stretches the window here (the return
// of init's fork or vfork is held for a second); init must already be unreachable by then, for
// the plain plan (vfork) and for one with a seccomp responder (fork: the launcher needs the
// command's memory before its execve, which a shared non-dumpable mm refuses a plain user).
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { probeKernel } from '../../src/host/probe.js'
import { CAPABILITIES } from '../../src/policy/capabilities.js'
import { compilePlan, encodePlan, resolvePolicy } from '../../src/index.js'
import { isRoot, LAUNCHER, plainUserScratch, ROOT } from '../helpers.js'

const probe = probeKernel()
const skip = !isRoot
  ? 'needs root to create the test user'
  : !probe.namespaces.user?.ok || !probe.namespaces.pid?.ok
    ? 'this host refuses user or pid namespaces'
    : spawnSync('strace', ['-V']).status !== 0
      ? 'strace is not installed'
      : false

/** A plan for `./init-reach` in dir, keeping every capability, with no Landlock step (a host
 * without it): nothing but init's own state stands between the command and /proc/1/fd. */
function writePlan(dir: string, ids: { uid: number; gid: number }, watch: string[]): string {
  const policy = { extends: ['default'], capabilities: [...CAPABILITIES] }
  const resolved = resolvePolicy({ policy, baseDir: dir, label: 'init-reach' }, dir)
  const plan = compilePlan(resolved, {
    ...ids,
    cwd: dir,
    arch: process.arch,
    idRanges: null, // root keeps its own ids: the same as init's, as a plain user's are
    watch,
    command: ['./init-reach'],
  })
  plan.ops = plan.ops.filter((op) => !op.op.startsWith('landlock'))
  const file = join(dir, watch.length ? 'watch.plan' : 'plain.plan')
  writeFileSync(file, encodePlan(plan))
  return file
}

// The owner of /proc/PID/fd may open it, but the kernel lists none of its entries to a reader
// that may not ptrace the process.
const DENIED = /^(denied EACCES|reached 0)$/m

const cases = [
  { name: 'vfork', watch: [] },
  { name: 'fork, for a seccomp responder', watch: ['openat'] },
]

describe('the sandbox init', { skip }, () => {
  for (const as of ['root', 'the plain user'])
    for (const c of cases)
      test(`is out of the command's reach from its first instruction (${c.name}, as ${as})`, (t) => {
        const build = (d: string) =>
          execFileSync('cc', ['-O2', '-o', join(d, 'init-reach'), join(ROOT, 'test', 'run', 'init-reach.c')])
        let dir: string
        let ids: { uid: number; gid: number }
        if (as === 'root') {
          dir = mkdtempSync(join(tmpdir(), 'cordon-init-reach-'))
          t.after(() => rmSync(dir, { recursive: true, force: true }))
          chmodSync(dir, 0o755)
          build(dir)
          ids = { uid: 0, gid: 0 }
        } else {
          ;({ user: ids, dir } = plainUserScratch(t, 'init-reach', build))
        }
        const plan = writePlan(dir, ids, c.watch)
        const r = spawnSync(
          'strace',
          [
            '-f',
            '-qq',
            '-o',
            '/dev/null',
            '-e',
            'trace=vfork,clone,clone3',
            '-e',
            'inject=vfork,clone,clone3:delay_exit=1000000',
            LAUNCHER,
            plan,
          ],
          { cwd: dir, encoding: 'utf8', timeout: 60_000, ...(as === 'root' ? {} : ids) },
        )
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stdout, DENIED, `init reachable from the command: ${r.stdout}${r.stderr}`)
      })

  // Without a pid namespace the launcher (the notify supervisor, the tracer, the console relay's
  // parent) and the supervisor are in sight, dumpable and of the command's uid for a plain user;
  // what keeps them out of reach is the command's Landlock domain (ptrace and /proc/PID/fd of a
  // process outside it are refused), and such a run is refused on a kernel without Landlock.
  test('without namespaces, the launcher and the supervisor are out of reach too', (t) => {
    const { dir, as } = plainUserScratch(t, 'init-reach-nons', (d) =>
      execFileSync('cc', ['-O2', '-o', join(d, 'init-reach'), join(ROOT, 'test', 'run', 'init-reach.c')]),
    )
    const r = as([
      'run',
      '-q',
      '--no-namespaces',
      '--acknowledge',
      'no-view',
      '--',
      'sh',
      '-c',
      `${dir}/init-reach $PPID; ${dir}/init-reach $(cut -d' ' -f4 /proc/$PPID/stat)`,
    ])
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines.length, 2, r.stdout)
    for (const line of lines) assert.match(line, DENIED, r.stdout)
  })
})
