// No-namespace mode enforces what it claims, or refuses (issue 18, findings 1-3): Landlock grants
// the host's /proc read-only, only the listed devices and a private temporary directory; a run
// whose pathname UNIX sockets no layer guards is refused unless the policy acknowledges it; and
// `cordon verify --no-namespaces` passes, as root and as a plain user.
import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { basename } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'
import { probeKernel } from '../../src/host/probe.js'

const abi = probeKernel().landlock.abi
const skip = abi < 6 ? `needs Landlock ABI 6 (scopes) for no-namespace mode; this kernel has ${abi}` : false
const NO_NS = ['--no-namespaces', '--acknowledge', 'no-view']
const ATTACKS = `
for f in /proc/sys/kernel/printk_ratelimit /proc/sys/kernel/core_pattern /proc/sysrq-trigger; do
  (: > "$f") 2>/dev/null && echo "wrote $f"
done
for d in /dev/fuse /dev/net/tun /dev/ptmx; do (: < "$d") 2>/dev/null && echo "opened $d"; done
(: > /tmp/.cordon-nons-$$) 2>/dev/null && echo "wrote host /tmp"
cat /proc/self/status >/dev/null && echo "read /proc"
echo x > /dev/null && echo "wrote /dev/null"
echo x > "$TMPDIR/f" && echo "wrote TMPDIR $TMPDIR"
`
const tmpDirs = () => readdirSync('/tmp').filter((n) => n.startsWith('cordon-tmp-'))

/** Both callers the mode serves: root (as host root and as its id range) and a plain user. */
const callers = [
  { name: 'root (id range)', args: [] as string[], as: undefined },
  { name: 'root (user.hostRoot)', args: ['--host-root', '--acknowledge', 'host-root'], as: undefined },
  { name: 'a plain user', args: [] as string[], as: 'plain' as const },
]

function cli(as: 'plain' | undefined, args: string[], timeout = 60_000) {
  if (!as) return cordon(args, { cwd: projectDir(), timeout })
  return cordonAs(ensureTestUser(), args, projectDir(), timeout)
}

describe(
  '--no-namespaces',
  { skip: skip || (!isRoot && 'needs root to act as root and as the test user') },
  () => {
    for (const c of callers)
      test(`${c.name}: /proc is read-only, only listed devices, host /tmp out of reach, own $TMPDIR`, () => {
        const before = tmpDirs()
        const r = cli(c.as, ['run', ...NO_NS, ...c.args, '--', 'sh', '-c', ATTACKS])
        assert.equal(r.status, 0, r.stderr)
        const lines = r.stdout.trim().split('\n')
        assert.deepEqual(lines.slice(0, 3), ['read /proc', 'wrote /dev/null', lines[2]])
        assert.match(lines[2]!, /^wrote TMPDIR \/tmp\/cordon-tmp-\w+$/)
        assert.equal(lines.length, 3, r.stdout)
        // The run's own directory goes with it. Its name carries its supervisor's pid namespace,
        // pid and start time, so no other directory of this run may be left either; another
        // test file's concurrent run may have one of its own meanwhile (or sweep a killed run's).
        const own = lines[2]!.split(' ')[2]!
        assert.equal(existsSync(own), false)
        const supervisor = basename(own).replace(/_[^_]+$/, '_')
        assert.deepEqual(
          tmpDirs().filter((n) => !before.includes(n) && n.startsWith(supervisor)),
          [],
        )
      })

    for (const c of callers)
      test(`${c.name}: run refuses unacknowledged unix sockets, with the field and the fix`, () => {
        const r = cli(c.as, ['run', '--no-namespaces', ...c.args.slice(0, 1), '--', 'true'])
        assert.equal(r.status, 125, r.stderr)
        assert.match(
          r.stderr,
          /no layer enforces `only the view reachable: unix sockets, file metadata, SysV IPC, inotify`/,
        )
        assert.match(r.stderr, /drop --no-namespaces.*acknowledge: \[no-view/)
        const acknowledged = cli(c.as, ['run', ...NO_NS, ...c.args, '--', 'true'])
        assert.equal(acknowledged.status, 0, acknowledged.stderr)
        assert.match(
          acknowledged.stderr,
          /not enforced: only the view reachable: unix sockets, file metadata, SysV IPC, inotify/,
        )
      })

    test('root: user.hostRoot without a view is refused unless acknowledged, and verify agrees', () => {
      const r = cli(undefined, ['run', ...NO_NS, '--host-root', '--', 'true'])
      assert.equal(r.status, 125, r.stderr)
      assert.match(
        r.stderr,
        /`host device nodes and kernel tables out of reach`.*without user.hostRoot.*acknowledge: \[host-root\]/,
      )
      const v = cli(
        undefined,
        ['verify', ...NO_NS, '--host-root', '--acknowledge', 'host-root', '--json'],
        300_000,
      )
      const report = JSON.parse(v.stdout) as {
        failures: number
        results: { probe: string; expected: boolean }[]
      }
      assert.equal(report.failures, 0, v.stdout)
      assert.equal(report.results.find((x) => x.probe === 'device-metadata')?.expected, false)
    })

    test('a compiled plan without namespaces is refused the same way', () => {
      const out = `${projectDir()}/nons.plan`
      const r = cordon(['compile', '--no-namespaces', '-o', out], { cwd: projectDir() })
      assert.notEqual(r.status, 0)
      assert.match(r.stderr, /acknowledge: \[no-view\]/)
    })

    test('a misspelt acknowledgement names the flag and the fix', () => {
      const r = cordon(['run', '--no-namespaces', '--acknowledge', 'no-veiw', '--', 'true'], {
        cwd: projectDir(),
      })
      assert.notEqual(r.status, 0)
      assert.match(r.stderr, /--acknowledge: expected one of .* got `no-veiw`.*did you mean `no-view`/)
    })

    for (const c of [callers[0]!, callers[2]!])
      test(`${c.name}: verify --no-namespaces refuses up front, and passes once acknowledged`, () => {
        const refused = cli(c.as, ['verify', '--no-namespaces', '--json'])
        assert.notEqual(refused.status, 0)
        assert.match(refused.stderr, /acknowledge: \[no-view\]/)
        const r = cli(c.as, ['verify', ...NO_NS, '--json'], 300_000)
        const report = JSON.parse(r.stdout) as {
          failures: number
          results: { probe: string; outcome: string; expected: boolean; detail?: string }[]
        }
        const failed = report.results.filter((x) => x.expected && x.outcome !== 'blocked')
        assert.deepEqual(failed, [], r.stderr)
        assert.equal(r.status, 0)
        for (const probe of ['proc-sys-write', 'proc-host-write', 'host-tmp-write'])
          assert.equal(report.results.find((x) => x.probe === probe)?.outcome, 'blocked', probe)
        const socket = report.results.find((x) => x.probe === 'unix-socket')
        assert.equal(socket?.expected, false, 'acknowledged, and said so')
      })
  },
)
