// tier: unit
// The rights tables: what each ABI handles, and the later ABIs cordon knows of but leaves
// unused (and says so) until they can be tested on a kernel that has them.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  FS,
  fsRights,
  LATER,
  MAX_ABI,
  NET,
  netRights,
  RESTRICT,
  scopes,
  unusedLater,
} from '../../src/landlock/rights.js'

test('ABI 8-10 are pinned beside the handled rights, without overlapping them, and not handled', () => {
  const fs = Object.values(FS).reduce((a, b) => a | b, 0n)
  const net = Object.values(NET).reduce((a, b) => a | b, 0n)
  const flags = BigInt(Object.values(RESTRICT).reduce((a, b) => a | b, 0))
  for (const r of LATER) {
    assert.ok(r.abi > MAX_ABI, r.name)
    const taken = r.kind === 'fs' ? fs : r.kind === 'net' ? net : flags
    assert.equal(r.value & taken, 0n, `${r.name} overlaps a right of ABI ≤ ${MAX_ABI}`)
  }
  // A kernel newer than MAX_ABI gets ABI MAX_ABI's rights: nothing new is restricted by surprise.
  assert.equal(fsRights(10), fsRights(MAX_ABI))
  assert.equal(netRights(10), netRights(MAX_ABI))
  assert.equal(scopes(10), scopes(MAX_ABI))
})

test('cordon check names what a newer kernel offers that this cordon leaves unused', () => {
  assert.equal(unusedLater(MAX_ABI), undefined)
  assert.match(
    unusedLater(8)!,
    /^not used by this cordon yet: restrict_self TSYNC \(ABI 8, enforce on every thread\); plans use ABI 7's rights/,
  )
  const ten = unusedLater(10)!
  for (const name of ['TSYNC', 'RESOLVE_UNIX', 'BIND_UDP', 'CONNECT_SEND_UDP'])
    assert.ok(ten.includes(name), ten)
  assert.match(ten, /seccomp still refuses UDP where tcp ports are set/)
})
