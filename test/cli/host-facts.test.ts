// Host facts decide what is claimed (issue 20, findings 14 and 15): `cordon check` reports the
// 32-bit entry points and the kernel switches the battery meets; the battery calls an absent
// i386 entry "not applicable on this host", not blocked; status lines leave out an optional
// bind the plan skipped. And a progress line for verify and learn, only on a terminal.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { blkioWeightAvailable, cgroupLayout, probeKernel } from '../../src/host/probe.js'
import { CLI, cordon, projectDir, ROOT } from '../helpers.js'

after(() => rmSync(projectDir(), { recursive: true, force: true }))

const timeout = 120_000
const probe = probeKernel()
const x86 = process.arch === 'x64'

interface Check {
  id: string
  detail: string
}

describe('cordon check reports what the battery relies on', () => {
  test('the i386 and x32 entries, in text and --json', { timeout, skip: !x86 && 'x86_64 only' }, () => {
    const r = cordon(['check', '--json'], { timeout })
    const report = JSON.parse(r.stdout) as { checks: Check[]; facts: { probe: typeof probe } }
    assert.equal(typeof report.facts.probe.x32Entry, 'boolean')
    const i386 = report.checks.find((c) => c.id === 'i386-entry')
    const x32 = report.checks.find((c) => c.id === 'x32-entry')
    assert.ok(i386 && x32, r.stdout)
    assert.match(i386.detail, probe.i386Entry ? /int 0x80 works/ : /absent: int 0x80 faults/)
    assert.match(x32.detail, probe.x32Entry ? /answers/ : /absent \(ENOSYS\)/)
    const text = cordon(['check'], { timeout }).stdout
    assert.match(text, /i386 entry {9}/)
    assert.match(text, /x32 ABI {12}/)
    assert.match(text, /kernel switches .*io_uring/)
  })

  test(
    'the battery says "not applicable on this host" where the i386 entry is absent',
    { timeout, skip: (!x86 || probe.i386Entry !== false) && 'this host has the i386 entry' },
    () => {
      const r = cordon(['verify', '--json', '--probe', 'i386-entry', '--probe', 'keyctl'], { timeout })
      assert.equal(r.status, 0, r.stderr)
      const { results } = JSON.parse(r.stdout) as {
        results: { probe: string; outcome: string; reason?: string; unsupported?: true }[]
      }
      const i386 = results.find((x) => x.probe === 'i386-entry')!
      assert.equal(i386.outcome, 'skipped')
      assert.equal(i386.unsupported, true)
      assert.match(i386.reason!, /^not applicable on this host: int 0x80 faults/)
      const text = cordon(['verify', '--probe', 'i386-entry', '--probe', 'keyctl'], { timeout }).stdout
      assert.match(text, /n\/a {8} i386-entry/)
      assert.match(text, /\(1 blocked of 2\)\. 1 not applicable on this host\./)
    },
  )
})

describe('status lines agree with the plan', () => {
  const absent = ['/lib32', '/libx32'].filter((d) => !existsSync(d))
  test(
    'an optional bind this host lacks is no statement in check, plan or report',
    { timeout, skip: !absent.length && 'this host has /lib32 and /libx32' },
    () => {
      const plan = cordon(['plan'], { timeout }).stdout
      for (const dir of absent)
        assert.match(plan, new RegExp(`skipped optional ${dir}: not present on this host`))
      for (const command of [['check'], ['plan']]) {
        const out = cordon(command, { timeout }).stdout
        for (const dir of absent)
          assert.doesNotMatch(
            out,
            new RegExp(`(full|partial|none) +bind ${dir}\\b`),
            `${command[0]}:\n${out}`,
          )
        assert.match(out, /(full|partial|none) +bind \/usr\b/)
      }
      const report = JSON.parse(cordon(['report', '--json'], { timeout }).stdout) as {
        statements: { statement: string }[]
      }
      const named = report.statements.map((s) => s.statement)
      assert.ok(named.includes('bind /usr'), named.join(', '))
      for (const dir of absent) assert.ok(!named.includes(`bind ${dir}`), named.join(', '))
    },
  )
})

/** Runs the CLI under a pseudo-terminal (util-linux script), stdout and stderr together. */
function onTerminal(args: string[]): string {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  const r = spawnSync('script', ['-qec', quoted, '/dev/null'], {
    cwd: projectDir(),
    encoding: 'utf8',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    timeout,
  })
  return r.stdout
}

const script = spawnSync('script', ['--version']).status === 0

describe('progress on a terminal', { skip: !script && 'needs script(1) for a terminal' }, () => {
  test('verify shows probe runs done; --quiet and --json do not', { timeout }, () => {
    assert.match(onTerminal(['verify', '--probe', 'keyctl']), /cordon: escape battery 1\/1 probe runs/)
    assert.doesNotMatch(onTerminal(['verify', '-q', '--probe', 'keyctl']), /escape battery/)
    assert.doesNotMatch(onTerminal(['verify', '--json', '--probe', 'keyctl']), /escape battery/)
    // Not on a pipe.
    assert.doesNotMatch(cordon(['verify', '--probe', 'keyctl'], { timeout }).stderr, /escape battery/)
  })

  test('learn shows its progress; --quiet and --json do not', { timeout }, () => {
    const out = join(projectDir(), 'progress.yaml')
    assert.match(onTerminal(['learn', '-o', out, '--', 'sleep', '1.5']), /cordon: learning… 1 s/)
    assert.doesNotMatch(onTerminal(['learn', '-q', '-o', out, '--', 'sleep', '1.5']), /learning…/)
    assert.doesNotMatch(onTerminal(['learn', '--json', '-o', out, '--', 'sleep', '1.5']), /learning…/)
  })
})

test(
  'cordon check says how spawn() starts the launcher: the addon, or child_process and why',
  { timeout },
  () => {
    const of = (env: NodeJS.ProcessEnv) => {
      const r = cordon(['check', '--json'], { timeout, env })
      return (JSON.parse(r.stdout) as { checks: (Check & { status: string })[] }).checks.find(
        (c) => c.id === 'launcher-start',
      )
    }
    const built = existsSync(join(ROOT, 'build', 'native', 'cordon-spawn.node'))
    const normal = of({})
    assert.deepEqual(
      [normal?.status, normal?.detail.startsWith(built ? "cordon's addon" : 'child_process')],
      [built ? 'ok' : 'partial', true],
    )
    const forced = of({ CORDON_SPAWN: 'child_process' })
    assert.deepEqual(
      [forced?.status, forced?.detail],
      ['partial', 'child_process (CORDON_SPAWN=child_process)'],
    )
  },
)

// A kernel without BFQ (this VM's, once) has blkio but no weight file in its groups: an
// io-weight is refused at run, and check says so beforehand.
test('whether v1 blkio takes an io weight comes from the schedulers the kernel has', () => {
  const sys = mkdtempSync(join(tmpdir(), 'cordon-sys-block-'))
  after(() => rmSync(sys, { recursive: true, force: true }))
  const device = (name: string, schedulers: string) => {
    mkdirSync(join(sys, name, 'queue'), { recursive: true })
    writeFileSync(join(sys, name, 'queue', 'scheduler'), `${schedulers}\n`)
  }
  device('vda', '[none] mq-deadline kyber')
  assert.equal(blkioWeightAvailable(sys), false)
  device('vdb', 'none [bfq]')
  assert.equal(blkioWeightAvailable(sys), true)
  assert.equal(blkioWeightAvailable(join(sys, 'absent')), false)
  const cg = cgroupLayout()
  const line = cordon(['check'], { timeout })
    .stdout.split('\n')
    .find((l) => l.includes('cgroups'))
  assert.equal(
    line?.includes('v1 blkio takes no io-weight here (no BFQ I/O scheduler)'),
    cg.v1Controllers.includes('blkio') && !cg.blkioWeight,
    line,
  )
})

// A v1 join is a move into the group, which waits for an RCU grace period unless a cgroup mount
// has favordynmods (one is enough: the rwsem is kernel-wide). check names it with its fix.
test('favordynmods comes from any cgroup mount, and check says what its absence costs', () => {
  const mountinfo = (v2: string, v1: string) =>
    `30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 ${v2}\n` +
    `31 25 0:27 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup ${v1}\n`
  const without = cgroupLayout(mountinfo('rw,nsdelegate', 'rw,pids'))
  assert.equal(without.favorDynmods, false)
  assert.equal(without.v2Mount, '/sys/fs/cgroup/unified')
  assert.equal(cgroupLayout(mountinfo('rw,nsdelegate,favordynmods', 'rw,pids')).favorDynmods, true)
  const v1 = cgroupLayout(mountinfo('rw', 'rw,pids,favordynmods'))
  assert.equal(v1.favorDynmods, true)
  assert.deepEqual(v1.v1Controllers, ['pids'])
  const cg = cgroupLayout()
  const lines = cordon(['check'], { timeout }).stdout.split('\n')
  const at = lines.findIndex((l) => l.includes('cgroups'))
  const slow = (cg.layout === 'v1' || cg.layout === 'hybrid') && !cg.favorDynmods
  assert.equal(lines[at]?.includes('waits for an RCU grace period without favordynmods'), slow, lines[at])
  if (slow && cg.v2Mount)
    assert.ok(lines[at + 1]?.includes(`mount -o remount,favordynmods ${cg.v2Mount}`), lines[at + 1])
})
