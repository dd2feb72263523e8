// The launcher's work per start (issue 23): counted with strace on the bench's bwrap-equivalent
// plan, so a change that brings back a syscall per capability or per bind shows here, and the
// layers that the cuts touch are checked on the real kernel.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { probeKernel } from '../../src/host/probe.js'
import { compilePlan, encodePlan, loadPolicyFile, resolvePolicy } from '../../src/index.js'
import { LAUNCHER, ROOT, projectDir } from '../helpers.js'

const policyFile = join(ROOT, 'bench', 'bwrap-equivalent.yaml')
const planFile = join(projectDir(), 'bwrap-equivalent.plan')
writeFileSync(
  planFile,
  encodePlan(
    compilePlan(
      resolvePolicy({ policy: loadPolicyFile(policyFile), baseDir: ROOT, label: policyFile }, '/'),
      {
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
        cwd: '/',
        arch: process.arch,
      },
    ),
  ),
)

const probe = probeKernel()
const noUserns = probe.namespaces.user?.ok ? undefined : 'this host refuses user namespaces'
const noStrace = spawnSync('strace', ['-V']).status === 0 ? undefined : 'strace is not installed'

/** Syscall name -> calls, from `strace -f -c` of one start. */
function countSyscalls(): Map<string, number> {
  const out = join(projectDir(), 'strace.txt')
  const r = spawnSync('strace', ['-f', '-c', '-o', out, LAUNCHER, planFile, '--', '/bin/true'], {
    encoding: 'utf8',
  })
  assert.equal(r.status, 0, r.stderr)
  const counts = new Map<string, number>()
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    // % time  seconds  usecs/call  calls  [errors]  syscall
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line)
    if (m?.[1] && m[2] && m[2] !== 'total') counts.set(m[2], Number(m[1]))
  }
  return counts
}

describe('launcher work per start', { skip: noUserns }, () => {
  test('drops capabilities with one prctl each, in the command only', { skip: noStrace }, () => {
    const counts = countSyscalls()
    // 41 capabilities on Linux 6.x: one PR_CAPBSET_DROP each plus the EINVAL that ends the
    // loop, and a handful of others (pdeathsig, keepcaps, no_new_privs, dumpable, ambient).
    // Reading each before dropping it, and dropping again in init, made 176.
    const prctl = counts.get('prctl') ?? 0
    assert.ok(prctl > 0 && prctl <= 60, `prctl calls per start: ${prctl}`)
  })

  test('opens a bind source named by several binds once', { skip: noStrace }, () => {
    // As root the launcher makes every bind's tree, 16 of them /dev/null over /proc files: the
    // launcher (the first pid in the trace) opened /dev/null for each before.
    const out = join(projectDir(), 'openat2.txt')
    const r = spawnSync(
      'strace',
      ['-f', '-e', 'trace=openat2', '-o', out, LAUNCHER, planFile, '--', '/bin/true'],
      {
        encoding: 'utf8',
      },
    )
    assert.equal(r.status, 0, r.stderr)
    const lines = readFileSync(out, 'utf8').split('\n')
    const launcherPid = lines[0]?.split(' ')[0]
    const opens = lines.filter(
      (l) => l.startsWith(`${launcherPid} `) && l.includes('openat2(') && l.includes('"/dev/null"'),
    )
    assert.equal(opens.length, 1, opens.join('\n'))
  })

  test(
    'sends one tree for the binds of one file with the same flags, and clones it inside',
    {
      skip: noStrace ?? (process.getuid?.() === 0 ? false : 'as root the launcher makes the trees'),
    },
    () => {
      // 16 masks of /proc files are /dev/null binds alike: the launcher sent 25 trees (one per
      // bind), now one for each distinct bind, and the sandbox clones the first mask for the rest.
      const counts = countSyscalls()
      const sent = counts.get('sendmsg') ?? 0
      assert.ok(sent > 0 && sent <= 12, `trees sent per start: ${sent}`)
      assert.ok(
        (counts.get('mount_setattr') ?? 0) <= 30,
        `mount_setattr per start: ${counts.get('mount_setattr')}`,
      )
    },
  )

  test('each hidden /proc file is a read-only nodev bind of /dev/null that cannot be opened', () => {
    const r = spawnSync(
      LAUNCHER,
      [
        planFile,
        '--',
        '/bin/sh',
        '-c',
        'cat /proc/self/mountinfo; for f in buddyinfo interrupts keys timer_list zoneinfo; do ' +
          '[ -e /proc/$f ] && { cat /proc/$f >/dev/null 2>&1 && echo "read $f"; }; done; echo x > /dev/null && echo devnull',
      ],
      { encoding: 'utf8' },
    )
    assert.equal(r.status, 0, r.stderr)
    const masks = r.stdout.split('\n').filter((l) => / \/null \/proc\//.test(l))
    assert.ok(masks.length >= 10, `masks:\n${r.stdout}`)
    for (const line of masks) assert.match(line, / ro,nosuid,nodev[ ,]/, line)
    assert.doesNotMatch(r.stdout, /^read /m, 'a hidden /proc file could be read')
    assert.match(r.stdout, /^devnull$/m, "the view's own /dev/null is a device still")
  })

  test('makes the parents of a new name in the view only when one is missing', { skip: noStrace }, () => {
    // Each bind, symlink and mount into /dev made /dev again (EEXIST) before: 15 mkdirat.
    const mkdirs = countSyscalls().get('mkdirat') ?? 0
    assert.ok(mkdirs <= 5, `mkdirat per start: ${mkdirs}`)
  })

  test('opens the directory of consecutive new names once', { skip: noStrace }, () => {
    // /dev's nodes, links and mount points are new names in one directory: each opened `dev`
    // again (13 per start) before the directory of the last new name stayed open.
    const out = join(projectDir(), 'openat2-dev.txt')
    const r = spawnSync(
      'strace',
      ['-f', '-e', 'trace=openat2', '-o', out, LAUNCHER, planFile, '--', '/bin/true'],
      { encoding: 'utf8' },
    )
    assert.equal(r.status, 0, r.stderr)
    const devOpens = readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => /openat2\(\d+, "dev",/.test(l))
    assert.ok(devOpens.length >= 1 && devOpens.length <= 2, devOpens.join('\n'))
  })

  test('the command holds no capability, and init none it could use', () => {
    const r = spawnSync(
      LAUNCHER,
      // init empties its sets once the vforked command has exec'd, so the command may start
      // first (init is already non-dumpable then: test/run/init-reach). Wait up to ~2 s for it.
      [
        planFile,
        '--',
        '/bin/sh',
        '-c',
        'i=0; while [ $i -lt 400 ] && ! grep -qE "^CapPrm:\\s*0+$" /proc/1/status; do i=$((i+1)); sleep 0.005; done; ' +
          'grep -E "^(Cap|NoNewPrivs)" /proc/self/status /proc/1/status',
      ],
      { encoding: 'utf8' },
    )
    assert.equal(r.status, 0, r.stderr)
    const field = (file: string, name: string) =>
      new RegExp(`^${file}:${name}:\\s*([0-9a-f]+)$`, 'm').exec(r.stdout)?.[1]
    for (const name of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'])
      assert.match(field('/proc/self/status', name) ?? '', /^0+$/, `command ${name}`)
    // init never execs: an empty permitted set and no_new_privs leave its bounding set inert.
    for (const name of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb'])
      assert.match(field('/proc/1/status', name) ?? '', /^0+$/, `init ${name}`)
    assert.equal(field('/proc/1/status', 'NoNewPrivs'), '1')
  })
})
