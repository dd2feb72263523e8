// The escape battery is one table (issue 22): each row says what it attacks, how its labels are
// aimed at the host's fixtures, and how what landed on the host is judged, through its own
// hooks, with no switch on probe names left in verify.ts. A host that lacks what a probe
// attacks answers `unsupported`, not a skip that reads like the caller's limit.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { PROBES } from '../../src/verify/battery.js'
import type { Fixtures, ProbePaths } from '../../src/verify/fixtures.js'
import type { ProbeContext, TargetContext } from '../../src/verify/probe-spec.js'
import { resolvePolicy } from '../../src/index.js'
import { ROOT } from '../helpers.js'

const spec = (name: string) => {
  const row = PROBES.find((p) => p.name === name)
  assert.ok(row, `no row ${name}`)
  return row
}

test('every row has its own name, and the probe binary knows each', () => {
  const names = PROBES.map((p) => p.name)
  assert.deepEqual(names, [...new Set(names)])
  const c = readdirSync(join(ROOT, 'native'))
    .filter((f) => /^attack.*\.c$/.test(f))
    .map((f) => readFileSync(join(ROOT, 'native', f), 'utf8'))
    .join('\n')
  assert.deepEqual(
    names.filter((n) => !c.includes(`{ "${n}",`)),
    [],
  )
})

test('verify.ts asks the rows’ hooks: no probe name is spelled there', () => {
  const source = readFileSync(join(ROOT, 'src', 'verify', 'verify.ts'), 'utf8')
  assert.deepEqual(
    PROBES.map((p) => p.name).filter((n) => source.includes(`'${n}'`) || source.includes(`${n}(`)),
    [],
  )
  assert.doesNotMatch(source, /switch \(/)
})

test('the rows that run alone say why: a resource limit, or a host fixture bracketed in time', () => {
  assert.deepEqual(
    PROBES.filter((p) => p.alone).map((p) => `${p.name}:${p.alone}`),
    ['setuid:bracketed', 'device-metadata:bracketed', 'fork-bomb:resource', 'memory:resource'],
  )
})

/** Runs a row's targets hook and records what it answered. */
function targetsOf(name: string, ctx: Partial<ProbeContext>, paths: Partial<ProbePaths> = {}) {
  const said: string[] = []
  const row = spec(name)
  const policy = resolvePolicy({ policy: { extends: ['default'] }, baseDir: '/', label: 't' }, '/')
  const t: TargetContext = {
    policy,
    fx: { tcpPort: 1, sleeper: { pid: 7 } } as unknown as Fixtures,
    paths: { bin: '/x', plantDir: '/p', ...paths },
    ctx: { tcpPort: 1, home: '/home/u', uid: 0, cgroup: { ok: true, why: '' }, backend: 'native', ...ctx },
    spec: row,
    add: (arg, target) => said.push(`add ${arg ?? '-'} ${target ?? '-'}`),
    skip: (reason) => said.push(`skip ${reason}`),
    unsupported: (reason) => said.push(`unsupported ${reason}`),
  }
  if (row.targets) row.targets(t)
  else t.add(undefined)
  return said
}

test('a host without what the attack needs is unsupported; a caller who cannot prepare it skips', () => {
  assert.deepEqual(targetsOf('i386-entry', { i386Entry: false }), [
    'unsupported not applicable on this host: int 0x80 faults outside any sandbox (no IA-32 emulation; see cordon check)',
  ])
  assert.deepEqual(targetsOf('i386-entry', { i386Entry: true }), ['add - -'])
  assert.deepEqual(targetsOf('setuid', { uid: 1000 }), ['skip preparing a setuid-root file needs root'])
  assert.deepEqual(targetsOf('setuid', {}, { suid: '/s' }), ['add /s a setuid/setgid-root fixture'])
})

test('rows aim their labels at the host fixtures', () => {
  assert.deepEqual(targetsOf('ptrace-host', {}), ['add 7 host pid 7'])
  assert.deepEqual(targetsOf('tcp-fastopen', {}), ['add 1 127.0.0.1:1/tcp'])
  assert.deepEqual(targetsOf('keyctl', {}), ['add - -'])
})
