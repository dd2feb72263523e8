// cordon advise: the recommendation follows from this host's facts, and the command it gives
// runs here as given.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { advise, type AdviceHost, WORKLOADS } from '../../src/backends/advise.js'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

const FULL: AdviceHost = {
  root: true,
  landlockAbi: 7,
  userNamespaces: true,
  cgroup: { ok: true, why: '' },
  runc: { ok: true, why: '' },
  gvisor: { ok: true, why: '' },
  kvm: true,
}
const BARE: AdviceHost = {
  root: false,
  landlockAbi: 0,
  userNamespaces: true,
  cgroup: { ok: false, why: 'only root gets a cgroup on this host' },
  runc: { ok: false, why: 'runc is not installed: apt-get install runc' },
  gvisor: { ok: false, why: 'runsc is not installed: apt-get install runsc' },
  kvm: false,
}

interface AdviceJson {
  host: AdviceHost
  advice: { workload: string; choice: string; command: string; lacks: string[]; reasons: string[] }[]
  policy: { label: string; backends: Record<string, { available: boolean; full: number; partial: number }> }
}

/** Runs the advised command line with /bin/true for COMMAND. */
const runAdvised = (command: string) =>
  command
    .replace(/^cordon /, '')
    .replace(/COMMAND$/, '/bin/true')
    .split(' ')

describe('cordon advise', () => {
  test('the matrix: micro-VM for finance only with KVM, gVisor for untrusted code only where it runs', () => {
    assert.equal(advise('finance', FULL).choice, 'micro-vm')
    assert.equal(advise('untrusted-code', FULL).choice, 'gvisor')
    for (const w of ['web', 'batch', 'io-heavy'] as const) assert.equal(advise(w, FULL).choice, 'native')
    const finance = advise('finance', BARE)
    assert.equal(finance.choice, 'native')
    assert.ok(finance.lacks.some((l) => /\/dev\/kvm/.test(l)))
    assert.ok(finance.reasons.some((r) => /gVisor is not usable here \(runsc is not installed/.test(r)))
    const untrusted = advise('untrusted-code', BARE)
    assert.equal(untrusted.command, 'cordon run --monitor -- COMMAND')
    assert.ok(untrusted.lacks.some((l) => /^Landlock/.test(l)))
    assert.ok(untrusted.lacks.some((l) => /memory and CPU limits are not enforced/.test(l)))
    // Requirements only where the host can meet them: an advised command never refuses to run.
    assert.equal(advise('web', FULL).command, 'cordon run --require landlock --require limits -- COMMAND')
    for (const w of WORKLOADS) assert.doesNotMatch(advise(w, BARE).command, /--require/)
    assert.match(advise('io-heavy', FULL).overhead, /start-up 7.4 ms/)
  })

  test(
    'on this host: facts from the kernel, and each advised command runs',
    { skip: !isRoot && 'needs root: the advised commands include root-only backends' },
    (t) => {
      // Not under /tmp: there the sandbox's /tmp tmpfs reaches the project bind through Landlock,
      // and the statement is honestly partial (status/statements.ts foreignRights).
      const project = mkdtempSync('/var/cordon-test-advise-')
      chmodSync(project, 0o755)
      t.after(() => rmSync(project, { recursive: true, force: true }))
      const r = cordon(['advise', '--json'], { cwd: project })
      assert.equal(r.status, 0, r.stderr)
      const out = JSON.parse(r.stdout) as AdviceJson
      assert.deepEqual(
        out.advice.map((a) => a.workload),
        [...WORKLOADS],
      )
      assert.equal(out.host.root, true)
      assert.ok(out.host.landlockAbi >= 1)
      assert.equal(out.policy.label, 'profile default')
      assert.equal(out.policy.backends.native!.partial, 0)
      // No Landlock in the runtimes: every filesystem statement Landlock holds natively is
      // partial there (19 on this VM; not the merged-/usr links, which the view alone holds).
      assert.ok(out.policy.backends.runc!.partial > 15)
      for (const a of out.advice.filter((x) => x.choice !== 'micro-vm')) {
        const ran = cordon(runAdvised(a.command), { cwd: project })
        assert.equal(ran.status, 0, `${a.workload}: ${a.command}: ${ran.stderr}`)
      }
      const text = cordon(['advise', '--workload', 'untrusted-code'], { cwd: project })
      assert.match(text.stdout, /^this host: Landlock ABI \d/m)
      assert.match(text.stdout, /^recommended: (gvisor|native)$/m)
      assert.match(text.stdout, /^cost: +start-up/m)
      const bad = cordon(['advise', '--workload', 'crypto'])
      assert.equal(bad.status, 2)
      assert.match(
        bad.stderr,
        /--workload must be one of web, batch, finance, untrusted-code, io-heavy, got `crypto`/,
      )
    },
  )

  test(
    'unprivileged: no gVisor, no cgroup — the advice says so and still runs',
    { skip: !isRoot && 'needs root to act as the test user' },
    () => {
      const user = ensureTestUser()
      const r = cordonAs(user, ['advise', '--workload', 'untrusted-code', '--json'], '/tmp')
      assert.equal(r.status, 0, r.stderr)
      const out = JSON.parse(r.stdout) as AdviceJson
      const a = out.advice[0]!
      assert.equal(a.choice, 'native')
      assert.ok(
        a.reasons.some((x) =>
          /gVisor is not usable here \((gVisor \(runsc\) needs root here|runsc is not installed)/.test(x),
        ),
        a.reasons.join('\n'),
      )
      assert.ok(a.lacks.some((l) => /only root gets a cgroup/.test(l)))
      const ran = cordonAs(user, ['run', '--profile', 'minimal', ...runAdvised(a.command).slice(1)], '/tmp')
      assert.equal(ran.status, 0, ran.stderr)
    },
  )
})
