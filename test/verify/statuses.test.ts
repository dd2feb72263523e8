// A status is a claim that `cordon verify` checks (DESIGN.md; issue 18, acceptance 3): the
// statuses `cordon plan`, `cordon check` and a run's `status` event print agree with each other,
// and with what the battery measures, in every mode — namespaced and --no-namespaces, as root and
// as a plain user, and on the runc and gVisor backends.
import assert from 'node:assert/strict'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'
import { probeKernel } from '../../src/host/probe.js'
import { backendAvailable } from '../../src/backends/runtime.js'

interface Statement {
  statement: string
  status: 'full' | 'partial' | 'none'
}

/** Statement → the probes that attack it: held (not `none`) exactly when every one is blocked. */
const CLAIMS: Readonly<Record<string, readonly string[]>> = {
  'proc /proc': ['proc-sys-write', 'proc-host-write'],
  'dev /dev': ['host-device'],
  'tmpfs /tmp': ['host-tmp-write'],
  'mask /etc/shadow': ['read-shadow'],
  'only the view reachable: unix sockets, file metadata, SysV IPC, inotify': ['unix-socket'],
  'scope signal': ['signal-host'],
  'scope abstract-unix-socket': ['abstract-unix'],
  'host device nodes and kernel tables out of reach': ['device-metadata', 'root-only-read'],
}
const PROBES = [...new Set(Object.values(CLAIMS).flat())].flatMap((p) => ['--probe', p])

const abi = probeKernel().landlock.abi
const MODES = [
  { name: 'namespaced', args: [] as string[] },
  { name: '--no-namespaces', args: ['--no-namespaces', '--acknowledge', 'no-view'] },
  {
    name: '--no-namespaces --host-root',
    args: ['--no-namespaces', '--host-root', '--acknowledge', 'no-view,host-root'],
    rootOnly: true,
  },
]

function cli(plain: boolean, args: string[]) {
  return plain
    ? cordonAs(ensureTestUser(), args, projectDir(), 300_000)
    : cordon(args, { cwd: projectDir(), timeout: 300_000 })
}

const byName = (list: Statement[]) => Object.fromEntries(list.map((s) => [s.statement, s.status]))

/** The run's `status` event, from an events file the caller can write. */
function runStatus(plain: boolean, args: string[]): Record<string, string> {
  const file = join(projectDir(), `status-${plain ? 'plain' : 'root'}-${Date.now()}.jsonl`)
  const dir = plain ? '/tmp' : projectDir()
  const events = plain ? join(dir, `cordon-status-${process.pid}-${Date.now()}.jsonl`) : file
  const r = cli(plain, ['run', ...args, '--events', events, '--', 'true'])
  assert.equal(r.status, 0, r.stderr)
  const lines = readFileSync(events, 'utf8').trim().split('\n')
  rmSync(events, { force: true })
  const status = lines.map((l) => JSON.parse(l) as { event: string; statements?: Statement[] })
  const ev = status.find((e) => e.event === 'status')
  assert.ok(ev?.statements, `no status event in ${lines.join('\n')}`)
  return byName(ev.statements)
}

/** Outcome per probe name from `cordon verify --json` (escaped if any of its labels escaped). A
 * probe the battery does not expect stopped on this backend (gVisor's own /dev) says nothing. */
function measured(plain: boolean, args: string[]): Record<string, string> {
  const r = cli(plain, ['verify', ...args, ...PROBES, '--json'])
  const report = JSON.parse(r.stdout) as {
    results: { probe: string; outcome: string; expected: boolean; reason?: string }[]
  }
  const out: Record<string, string> = {}
  for (const x of report.results)
    if (x.outcome !== 'skipped' && (x.expected || x.reason?.includes('acknowledges')))
      out[x.probe] = out[x.probe] === 'escaped' ? 'escaped' : x.outcome
  return out
}

function agree(statuses: Record<string, string>, outcomes: Record<string, string>, where: string): void {
  for (const [statement, probes] of Object.entries(CLAIMS)) {
    const status = statuses[statement]
    if (status === undefined) continue // the policy does not make it
    for (const probe of probes) {
      const outcome = outcomes[probe]
      if (outcome === undefined) continue // skipped here (no target on this host)
      assert.equal(
        outcome === 'blocked',
        status !== 'none',
        `${where}: \`${statement}\` is ${status}, yet ${probe} was ${outcome}`,
      )
    }
  }
}

describe(
  'statuses agree with what verify measures',
  {
    skip:
      (!isRoot && 'needs root to act as root and as the test user') || (abi < 6 && `Landlock ABI ${abi} < 6`),
  },
  () => {
    for (const plain of [false, true])
      for (const mode of MODES.filter((m) => !plain || !('rootOnly' in m)))
        test(`${mode.name}, ${plain ? 'a plain user' : 'root'}: plan, check, run and verify agree`, () => {
          const plan = cli(plain, ['plan', ...mode.args, '--json'])
          assert.equal(plan.status, 0, plan.stderr)
          const planned = byName((JSON.parse(plan.stdout) as { statements: Statement[] }).statements)
          const check = cli(plain, ['check', ...mode.args, '--json'])
          const checked = byName((JSON.parse(check.stdout) as { statements: Statement[] }).statements)
          assert.deepEqual(checked, planned, 'check and plan')
          assert.deepEqual(runStatus(plain, mode.args), planned, 'the run and plan')
          if (mode.name.startsWith('--no-namespaces')) {
            assert.equal(
              planned['only the view reachable: unix sockets, file metadata, SysV IPC, inotify'],
              'none',
            )
            for (const s of ['proc /proc', 'dev /dev', 'tmpfs /tmp']) assert.equal(planned[s], 'partial', s)
          }
          agree(planned, measured(plain, mode.args), `${mode.name}, ${plain ? 'plain user' : 'root'}`)
        })

    for (const backend of ['runc', 'gvisor'] as const) {
      const available = backendAvailable(backend)
      test(
        `--backend ${backend}, root: the run's statuses agree with verify`,
        { skip: !available.ok && available.why },
        () => {
          const statuses = runStatus(false, ['--backend', backend])
          agree(statuses, measured(false, ['--backend', backend]), backend)
        },
      )
    }
  },
)
