// A writable directory the learning run was given (`--rw ./logs`) that the learned policy grants
// only in part (the one log file the run appended to) is said, in the policy and by learn: the
// next log the program makes is refused, and nothing told the user their directory was narrowed
// (helper-152).
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { generatePolicy } from '../../src/learn/generate.js'
import { emptyObservation } from '../../src/learn/observation.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { archByName } from '../../src/seccomp/arch.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { projectDir } from '../helpers.js'

function learned(files: Record<string, ('write' | 'create')[]>) {
  const dir = projectDir()
  const logs = join(dir, 'logs')
  mkdirSync(logs, { recursive: true })
  writeFileSync(join(logs, 'app.log'), 'old\n')
  const base = resolvePolicy(
    { policy: { extends: ['default'], filesystem: [{ rw: logs }] }, baseDir: dir, label: 'base' },
    dir,
  )
  const obs = {
    ...emptyObservation(archByName(process.arch)!.name),
    files: Object.fromEntries(Object.entries(files).map(([p, a]) => [join(logs, p), a])),
  }
  const generated = generatePolicy(obs, {
    base,
    baseSeccomp: resolveSeccomp(base.seccomp),
    baseProfile: 'default',
    cwd: dir,
  })
  return { generated, logs }
}

test('a --rw directory granted only in part is said to be narrowed', () => {
  const { generated, logs } = learned({ 'app.log': ['write'] })
  assert.equal(generated.narrowed.length, 1, generated.yaml)
  assert.match(
    generated.narrowed[0]!,
    new RegExp(`^${logs} was writable while learning; .*${logs}/app\\.log.*\`rw: ${logs}\``),
  )
  assert.match(generated.yaml, /# narrowed: /)
  // A run that made a file there is granted the directory: nothing narrowed.
  assert.deepEqual(learned({ 'new.log': ['create', 'write'] }).generated.narrowed, [])
})
