// `cordon-oci update` (what `docker update` and containerd run) keeps memory, pids and CPU at or
// under the limits an org.cordon.policy set at create, whether the container's annotation or
// the runtime's forced one (CORDON_OCI_ANNOTATIONS) gave it: the engine's user cannot lift them.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'

import type { ContainerRecord } from '../../src/oci-runtime/state.js'
import { type Bundle, CORDON_OCI, makeBundle, ociSkip } from './bundle.js'

const skip = ociSkip('cordon-oci creates containers as root')

const POLICY = 'filesystem:\n  - ro: /\n  - rw: /tmp\nlimits:\n  pids: 64\n  memory: 64M\n  cpus: "0.5"\n'

/** The created container keeps the runtime's stdio: a file, not a pipe, for its stderr. */
function run(b: Bundle, args: string[], env: Record<string, string> = {}) {
  const errFile = join(b.dir, 'stderr')
  const err = openSync(errFile, 'w+')
  try {
    const r = spawnSync(CORDON_OCI, ['--root', b.root, ...args], {
      cwd: b.dir,
      encoding: 'utf8',
      stdio: ['ignore', args[0] === 'create' ? 'ignore' : 'pipe', err],
      timeout: 60_000,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '', ...env },
    })
    return { status: r.status, stdout: r.stdout ?? '', stderr: readFileSync(errFile, 'utf8') }
  } finally {
    closeSync(err)
  }
}

const file = (dirs: string[], name: string) => {
  const d = dirs.find((x) => existsSync(`${x}/${name}`))
  return d === undefined ? undefined : readFileSync(`${d}/${name}`, 'utf8').trim()
}

describe('cordon-oci update under org.cordon.policy', { skip }, () => {
  for (const how of ['annotation', 'CORDON_OCI_ANNOTATIONS'] as const)
    test(`limits above the policy's are refused by field (${how})`, (t) => {
      const b = makeBundle(['sleep', '60'])
      t.after(() => b.cleanup())
      const env =
        how === 'annotation'
          ? {}
          : { CORDON_OCI_ANNOTATIONS: JSON.stringify({ 'org.cordon.policy': POLICY }) }
      b.write((c) => {
        if (how === 'annotation') c.annotations = { 'org.cordon.policy': POLICY }
        c.linux!.resources = { pids: { limit: 32 } }
      })
      const c = run(b, ['create', 'u1'], env)
      assert.equal(c.status, 0, c.stderr)
      const dirs = (JSON.parse(readFileSync(join(b.root, 'u1', 'state.json'), 'utf8')) as ContainerRecord)
        .cgroupDirs
      const refused: [string[], RegExp][] = [
        [['--memory', '128m'], /memory\.limit 134217728 is above .* limit of 67108864 bytes/],
        [['--memory', '-1'], /memory\.limit unlimited is above/],
        [['--pids-limit', '65'], /pids\.limit 65 is above .* limit of 64/],
        [['--pids-limit', '-1'], /pids\.limit unlimited/],
        [
          ['--cpu-quota', '100000', '--cpu-period', '100000'],
          /cpu\.quota 100000\/100000 \(1\.00 CPUs\) is above .* 0\.5 CPUs/,
        ],
        [['--cpu-period', '50000'], /cpu\.quota .* is above/], // the same quota over a shorter period
        [['--cpu-quota', '-1'], /cpu\.quota unlimited/],
      ]
      for (const [flags, want] of refused) {
        const r = run(b, ['update', ...flags, 'u1'])
        assert.equal(r.status, 1, `${flags.join(' ')}: ${r.stderr}`)
        assert.match(r.stderr, want)
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
      }
      assert.equal(file(dirs, 'pids.max'), '32', 'a refused update changes nothing')
      // At or under the ceilings: applied.
      const ok = run(b, ['update', '--pids-limit', '64', '--memory', '32m', '--cpu-quota', '25000', 'u1'])
      assert.equal(ok.status, 0, ok.stderr)
      assert.equal(file(dirs, 'pids.max'), '64')
      const mem = file(dirs, 'memory.max') ?? file(dirs, 'memory.limit_in_bytes')
      if (mem !== undefined) assert.equal(mem, String(32 * 1024 * 1024))
    })

  test('without a policy, update raises limits as runc does', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    b.write((c) => (c.linux!.resources = { pids: { limit: 32 } }))
    assert.equal(run(b, ['create', 'u2']).status, 0)
    const r = run(b, ['update', '--pids-limit', '1000', 'u2'])
    assert.equal(r.status, 0, r.stderr)
    const dirs = (JSON.parse(readFileSync(join(b.root, 'u2', 'state.json'), 'utf8')) as ContainerRecord)
      .cgroupDirs
    assert.equal(file(dirs, 'pids.max'), '1000')
  })
})
