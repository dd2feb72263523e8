// tier: unit
// The memfd exec guard (issue 18, finding 8): every filter refuses memfd_create without
// MFD_NOEXEC_SEAL with EACCES, whatever the profile and whatever a policy's rules allow; a
// sealed memfd goes through. The exec-memfd probe shows it on the real kernel in every mode.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ARCHES, entryPoints } from '../../src/seccomp/arch.js'
import { RET } from '../../src/seccomp/bpf.js'
import { evaluateSpec } from '../../src/seccomp/reference.js'
import { resolveSeccomp } from '../../src/seccomp/resolve.js'
import { syscallTable } from '../../src/seccomp/tables.js'

const MFD_CLOEXEC = 0x1n
const MFD_NOEXEC_SEAL = 0x8n
const MFD_EXEC = 0x10n

function outcome(layers: Parameters<typeof resolveSeccomp>[0], flags: bigint): string {
  const arch = ARCHES.x86_64
  const nr = syscallTable('x86_64').memfd_create!
  const value = evaluateSpec(resolveSeccomp(layers), entryPoints('x64'), arch.audit, nr, [
    0n,
    flags,
    0n,
    0n,
    0n,
    0n,
  ])
  const action = (value & 0xffff0000) >>> 0
  return action === RET.ERRNO
    ? `errno ${value & 0xffff}`
    : action === RET.ALLOW
      ? 'allow'
      : `0x${value.toString(16)}`
}

describe('memfd exec guard', () => {
  const allowAll = {
    origin: 'policy',
    rules: [{ syscalls: ['memfd_create'], action: 'allow' }],
  }
  for (const profile of ['default', 'strict', 'none'])
    test(`profile ${profile}: only a sealed memfd, whatever the rules allow`, () => {
      for (const layers of [[{ origin: 'p', profile }], [{ origin: 'p', profile }, allowAll]]) {
        assert.equal(outcome(layers, 0n), 'errno 13')
        assert.equal(outcome(layers, MFD_CLOEXEC), 'errno 13')
        assert.equal(outcome(layers, MFD_EXEC | MFD_CLOEXEC), 'errno 13')
        // flags is an unsigned int: the guard reads the low 32 bits, as the kernel does, so
        // high bits neither hide the seal nor fake it.
        assert.equal(outcome(layers, 0x8_0000_0000n), 'errno 13')
        assert.equal(outcome(layers, MFD_NOEXEC_SEAL | MFD_CLOEXEC), 'allow')
      }
    })
})
