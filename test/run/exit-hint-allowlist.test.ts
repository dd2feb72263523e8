// tier: unit
// The allowlist hint (`--audit`) is told from a policy's seccomp layers without the compiler,
// from the built-in profiles' defaults (seccomp/profile-defaults.ts): each profile is called an
// allowlist exactly when the filter it resolves to refuses what it does not list.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hintedCommand } from '../../src/run/exit-hint-names.js'
import { passesThrough } from '../../src/seccomp/model.js'
import { SECCOMP_PROFILES } from '../../src/seccomp/profiles.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'

test('each built-in profile is an allowlist exactly when its filter refuses what it does not list', () => {
  for (const profile of Object.keys(SECCOMP_PROFILES)) {
    const layers = [{ profile, origin: 'test' }]
    const refuses = !passesThrough(resolveSeccomp(layers).defaultAction)
    assert.equal(hintedCommand(['true'], 1, layers).includes('allowlist'), refuses, profile)
  }
  // A layer's own default decides over its profile's, and a success or a death gets no hint.
  const learned = [
    { profile: 'default', origin: 'a' },
    { default: 'errno(EPERM)', origin: 'b' },
  ]
  assert.deepEqual(hintedCommand(['true'], 1, learned), ['allowlist'])
  assert.deepEqual(hintedCommand(['true'], 0, learned), [])
  assert.deepEqual(hintedCommand(['true'], 1, [{ profile: 'strict' }, { default: 'allow' }]), [])
})
