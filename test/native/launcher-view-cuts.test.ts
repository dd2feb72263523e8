// The view's cuts of issue 23 on the real kernel, as root and as the plain user: the optional
// /sys bind after `ro: /` is not stacked a second time on the /sys the / tree holds (the same
// mounts, one copy), a root caller's start pivots once, and a launcher inside a pid namespace
// whose /proc is the outer one writes its own child's id maps.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { probeKernel } from '../../src/host/probe.js'
import { compilePlan, encodePlan, loadPolicyFile, resolvePolicy } from '../../src/index.js'
import { ensureTestUser, hasCommand, isRoot, LAUNCHER, projectDir, ROOT } from '../helpers.js'

const policyFile = join(ROOT, 'bench', 'bwrap-equivalent.yaml')
const probe = probeKernel()
const noUserns = probe.namespaces.user?.ok ? undefined : 'this host refuses user namespaces'

/** The bench's bwrap-equivalent plan compiled for a caller, written where that caller reads it. */
function planFor(who: { uid: number; gid: number }, name: string): string {
  const file = join(projectDir(), name)
  const resolved = resolvePolicy(
    { policy: loadPolicyFile(policyFile), baseDir: ROOT, label: policyFile },
    '/',
  )
  writeFileSync(file, encodePlan(compilePlan(resolved, { ...who, cwd: '/', arch: process.arch })))
  chmodSync(projectDir(), 0o755)
  chmodSync(file, 0o644)
  return file
}

const callers = [
  { name: 'root caller', skip: isRoot ? undefined : 'needs root', who: () => ({ uid: 0, gid: 0 }) },
  {
    name: 'plain user',
    skip: isRoot ? undefined : 'needs root to become the test user',
    who: () => ensureTestUser(),
  },
]

/** mountinfo and `ls /sys/fs/cgroup` inside a sandbox of the plan, started as who. */
function inside(plan: string, who: { uid: number; gid: number }) {
  const r = spawnSync(
    LAUNCHER,
    [plan, '--', '/bin/sh', '-c', 'cat /proc/self/mountinfo; echo ---; ls -A /sys/fs/cgroup'],
    { encoding: 'utf8', uid: who.uid, gid: who.gid, timeout: 30_000 },
  )
  assert.equal(r.status, 0, r.stderr)
  const [mounts = '', cgroup = ''] = r.stdout.split('\n---\n')
  return { mounts: mounts.split('\n').filter(Boolean), cgroup: cgroup.split('\n').filter(Boolean) }
}

describe('the view cuts of issue 23', { skip: noUserns }, () => {
  for (const caller of callers) {
    test(`binds the host's /sys once under ro: / (${caller.name})`, { skip: caller.skip }, () => {
      const who = caller.who()
      const { mounts, cgroup } = inside(planFor(who, `cuts-${who.uid}.plan`), who)
      // Each mount of the host's /sys (sysfs, its cgroup v1 tree, tracefs) once, read-only, not
      // a second copy stacked on the first by the plan's own /sys bind.
      const sysfs = mounts.filter((l) => / - sysfs /.test(l))
      assert.equal(sysfs.length, 1, sysfs.join('\n'))
      assert.match(sysfs[0] ?? '', / \/sys ro,nosuid,nodev[ ,]/)
      const sys = mounts
        .map((l) => l.split(' ')[4] ?? '')
        .filter((p) => p === '/sys' || p.startsWith('/sys/'))
      assert.equal(new Set(sys).size, sys.length, sys.join('\n'))
      // What the sandbox sees there is the host's.
      assert.deepEqual(cgroup.sort(), readdirSync('/sys/fs/cgroup').sort())
    })
  }

  test(
    'a root caller pivots once',
    { skip: !isRoot ? 'needs root' : hasCommand('strace') ? undefined : 'no strace' },
    () => {
      // Every tree of a root caller's (remapped) sandbox comes from the launcher, so the scratch
      // tmpfs may stay on the host's /tmp while the view is built: a chroot, one pivot_root.
      const out = join(projectDir(), 'pivot.txt')
      const plan = planFor({ uid: 0, gid: 0 }, 'pivot.plan')
      const r = spawnSync('strace', [
        '-f',
        '-e',
        'trace=pivot_root,chroot',
        '-o',
        out,
        LAUNCHER,
        plan,
        '--',
        '/bin/true',
      ])
      assert.equal(r.status, 0, String(r.stderr))
      const calls = readFileSync(out, 'utf8').split('\n')
      assert.equal(
        calls.filter((l) => l.includes('pivot_root(') && l.includes('= 0')).length,
        1,
        calls.join('\n'),
      )
    },
  )

  test(
    'writes its own child id maps inside a pid namespace whose /proc is the outer one',
    { skip: !isRoot ? 'needs root' : hasCommand('unshare') ? undefined : 'no unshare' },
    () => {
      // The pid clone returns is of the launcher's namespace, /proc shows the outer one: the
      // maps were written to /proc/PID of another process (EPERM) or none (ENOENT).
      const plan = planFor({ uid: 0, gid: 0 }, 'nested.plan')
      const r = spawnSync(
        'unshare',
        ['-p', '-f', LAUNCHER, plan, '--', '/bin/sh', '-c', 'cat /proc/self/uid_map'],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^\s*0\s+\d+\s+\d+\s*$/m)
    },
  )

  test(
    "writes no other process's id maps when /proc is of a pid namespace the launcher is not in",
    {
      skip: !isRoot
        ? 'needs root'
        : hasCommand('unshare') && hasCommand('nsenter') && hasCommand('pgrep')
          ? undefined
          : 'no util-linux or pgrep',
    },
    () => {
      // `nsenter -m` into a container: /proc is the container's pid namespace, where neither the
      // launcher nor its child has a number (no /proc/self, no fdinfo). The child's host pid then
      // names a process of the container, here one waiting in a fresh user namespace, made with
      // that number (ns_last_pid on both sides): root's maps must not land in its namespace.
      const plan = planFor({ uid: 0, gid: 0 }, 'foreign-proc.plan')
      const script = [
        'unshare -m -p -f --mount-proc --propagation private sleep 60 >/dev/null 2>&1 & u=$!',
        'for i in 1 2 3 4 5 6 7 8 9 10; do init=$(pgrep -P $u) && break; sleep 0.1; done',
        // A number free on the host and in the container (pid_max 32768 at least).
        'n=20000; while [ -e /proc/$((n+1)) ] || [ -e /proc/$((n+2)) ]; do n=$((n+5)); done',
        `nsenter -t $init -p -m -- sh -c "echo $n > /proc/sys/kernel/ns_last_pid; unshare -U sleep 29.7 & wait" >/dev/null 2>&1 &`,
        'for i in 1 2 3 4 5 6 7 8 9 10; do v=$(pgrep -f "^sleep 29.7$" -n) && break; sleep 0.1; done',
        `sh -c "echo $n > /proc/sys/kernel/ns_last_pid; exec nsenter -t $init -m -- ${LAUNCHER} ${plan} -- /bin/true"`,
        'echo "rc=$?"; echo "victim=[$(cat /proc/$v/uid_map)]"',
        'kill -KILL $v $init 2>/dev/null',
      ].join('\n')
      const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 60_000 })
      assert.match(r.stdout, /^victim=\[\]$/m, r.stdout + r.stderr)
      assert.match(r.stdout, /^rc=125$/m, r.stdout + r.stderr)
      assert.match(r.stderr, /mount a \/proc of its own/, r.stderr)
    },
  )
})
