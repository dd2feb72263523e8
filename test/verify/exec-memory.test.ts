// Exec from memory, from /dev/shm (issue 18, finding 8) and from /dev (helper-141: an OCI
// runtime's /dev is a tmpfs its root writes, and ran what was copied there): the exec-memfd,
// exec-devshm and exec-dev probes are blocked in every mode they apply to, as root and as the plain user — natively,
// without namespaces, under runc and under gVisor (root only: cordon runs runsc as root), and
// in audit and learn runs (the probe binary run directly: verify has no traced mode).
import assert from 'node:assert/strict'
import { chmodSync, lchownSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, hasCommand, isRoot, ROOT } from '../helpers.js'

const PROBES = ['--probe', 'exec-memfd', '--probe', 'exec-devshm', '--probe', 'exec-dev']
const timeout = 180_000

interface Verdict {
  probe: string
  outcome: string
  expected: boolean
  by?: string
}

function check(stdout: string, stderr: string): void {
  const results = (JSON.parse(stdout) as { results: Verdict[] }).results
  assert.deepEqual(results.map((r) => r.probe).sort(), ['exec-dev', 'exec-devshm', 'exec-memfd'], stderr)
  for (const r of results) {
    assert.equal(r.expected, true, JSON.stringify(r))
    assert.equal(r.outcome, 'blocked', JSON.stringify(r))
  }
  const memfd = results.find((r) => r.probe === 'exec-memfd')!
  assert.match(memfd.by ?? '', /seccomp/, JSON.stringify(memfd))
}

const modes: { name: string; flags: string[]; user: boolean; skip?: string | false }[] = [
  { name: 'namespaced', flags: [], user: true },
  {
    name: '--no-namespaces',
    // Without a mount view pathname UNIX sockets are the gap the policy must accept to run.
    flags: ['--no-namespaces', '--acknowledge', 'no-view'],
    user: true,
  },
  {
    name: '--backend runc',
    flags: ['--backend', 'runc'],
    user: true,
    skip: !hasCommand('runc') && 'needs runc',
  },
  {
    // The probes were looked for at their host path, which a runtime's root never shows.
    name: '--backend runc --no-namespaces',
    flags: ['--backend', 'runc', '--no-namespaces', '--acknowledge', 'no-view,scopes'],
    user: true,
    skip: !hasCommand('runc') && 'needs runc',
  },
  {
    name: '--backend gvisor',
    flags: ['--backend', 'gvisor'],
    user: false,
    skip: !hasCommand('runsc') && 'needs runsc',
  },
]

describe('exec from memory, /dev/shm and /dev is blocked', { concurrency: 1 }, () => {
  for (const m of modes) {
    test(`${m.name}, as root`, { timeout, skip: (!isRoot && 'runs as root') || m.skip || false }, () => {
      const r = cordon(['verify', '--json', ...PROBES, ...m.flags], { timeout })
      check(r.stdout, r.stderr)
    })
    if (!m.user) continue
    test(
      `${m.name}, as the plain user`,
      { timeout, skip: (!isRoot && 'needs root to switch users') || m.skip || false },
      (t) => {
        const user = ensureTestUser()
        // mkdtemp, not a predictable name: a link planted there would carry the chown elsewhere.
        const dir = mkdtempSync('/tmp/cordon-exec-memory-')
        chmodSync(dir, 0o755)
        lchownSync(dir, user.uid, user.gid)
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        const r = cordonAs(user, ['verify', '--json', ...PROBES, ...m.flags], dir, timeout)
        check(r.stdout, r.stderr)
      },
    )
  }
})

// runc without a pid namespace has no Landlock signal scope: a host process is signalled. Not
// blocked, unless the policy acknowledges the scopes gap, as `cordon run` asks it to.
test(
  'under runc without namespaces, signalling a host process is a gap only the scopes acknowledgment accepts',
  { timeout, skip: (!isRoot && 'runs as root') || (!hasCommand('runc') && 'needs runc') },
  () => {
    const flags = ['verify', '--json', '--probe', 'signal-host', '--backend', 'runc', '--no-namespaces']
    const verdict = (ack: string) => {
      const r = cordon([...flags, '--acknowledge', ack], { timeout })
      return (JSON.parse(r.stdout) as { results: Verdict[] }).results.find((v) => v.probe === 'signal-host')!
    }
    assert.deepEqual(
      [verdict('no-view'), verdict('no-view,scopes')].map((v) => [v.outcome, v.expected]),
      [
        ['escaped', true],
        ['escaped', false],
      ],
    )
  },
)

const PROBE_DIR = join(ROOT, 'build', 'native')
const traced: { name: string; args: (dir: string) => string[] }[] = [
  { name: 'audit', args: () => ['run', '--audit', '--ro', PROBE_DIR, '--'] },
  { name: 'learn', args: (dir) => ['learn', '-o', join(dir, 'learned.yaml'), '--ro', PROBE_DIR, '--'] },
]

describe('exec from memory and from /dev/shm is blocked in traced runs', { concurrency: 1 }, () => {
  for (const m of traced)
    for (const who of ['root', 'the plain user'] as const)
      test(`${m.name}, as ${who}`, { timeout, skip: !isRoot && 'needs root to switch users' }, (t) => {
        const user = who === 'root' ? undefined : ensureTestUser()
        const dir = mkdtempSync(`/tmp/cordon-exec-memory-${m.name}-`)
        chmodSync(dir, 0o755)
        if (user) lchownSync(dir, user.uid, user.gid)
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        const argv = [...m.args(dir), join(PROBE_DIR, 'cordon-probes'), 'exec-memfd', 'exec-devshm']
        const r = user ? cordonAs(user, argv, dir, timeout) : cordon(argv, { cwd: dir, timeout })
        const lines = r.stdout
          .split('\n')
          .filter((l) => l.startsWith('{"probe"'))
          .map((l) => JSON.parse(l) as { probe: string; outcome: string; errno?: number })
        assert.deepEqual(
          lines.map((l) => [l.probe, l.outcome, l.errno]),
          [
            ['exec-memfd', 'blocked', 13],
            ['exec-devshm', 'blocked', 13],
          ],
          r.stdout + r.stderr,
        )
      })
})
