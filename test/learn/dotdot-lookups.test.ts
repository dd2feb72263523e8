// A path with `..` after a component that is not there cannot be resolved as the kernel did
// (it may have been a link the run removed): never granted. When the run only looked it up,
// it is a lookup of a missing file — gcc probes a dozen on every compile — and is not listed
// as "not granted" (helper-116: four wrong lines on every learned C compile); a read through
// it still is.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generatePolicy } from '../../src/learn/generate.js'
import { emptyObservation } from '../../src/learn/observation.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { archByName } from '../../src/seccomp/arch.js'
import { projectDir } from '../helpers.js'

test('a lookup through a missing directory is not listed; a read through one is', () => {
  const dir = projectDir()
  const base = resolvePolicy({ policy: { extends: ['default'] }, baseDir: dir, label: 'base' }, dir)
  const obs = emptyObservation(archByName(process.arch)!.name)
  const missing = `/usr/cordon-missing-${process.pid}`
  obs.files[`${missing}/lib/../lib/crti.o`] = ['lookup']
  obs.files[`${missing}/lib/../lib/data`] = ['lookup', 'read']
  const generated = generatePolicy(obs, {
    base,
    baseSeccomp: resolveSeccomp(base.seccomp),
    baseProfile: 'default',
    cwd: dir,
  })
  assert.deepEqual(
    generated.withheld.filter((w) => w.includes(missing)),
    [
      `looked up, read ${missing}/lib/../lib/data: a \`..\` after a link that is gone, so where it led is unknown`,
    ],
  )
  assert.doesNotMatch(generated.yaml, new RegExp(`- (ro|rw|mkdir): ${missing}`))
})
