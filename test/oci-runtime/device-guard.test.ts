// org.cordon.landlock=off is the container author's choice, and it dropped the Landlock layer
// that denies making device nodes: a root container with CAP_MKNOD (Docker's default set has
// it) made a node of a host disk on the bundle's rootfs, a host filesystem where it outlives the
// container, and on cgroup v2, where cordon-oci enforces no device cgroup (it accepts a
// deny-all rule because Landlock denies making nodes), could open it. With the annotation off,
// Landlock now still handles device-node creation alone.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { probeKernel } from '../../src/host/probe.js'

import { CORDON_OCI, makeBundle, ociSkip } from './bundle.js'

const skip =
  ociSkip('cordon-oci makes a root container here') ||
  (!probeKernel().landlock.abi ? 'no Landlock on this kernel' : false)

describe('org.cordon.landlock=off', { skip }, () => {
  test('still denies making a device node', (t) => {
    const b = makeBundle([
      'sh',
      '-c',
      'mknod /tmp/sda b 8 0 && echo made || echo refused; mknod /tmp/p p && echo fifo',
    ])
    t.after(() => b.cleanup())
    b.write((c) => {
      const caps = c.process!.capabilities!
      for (const set of ['bounding', 'effective', 'permitted'] as const)
        caps[set] = [...(caps[set] ?? []), 'CAP_MKNOD']
      c.annotations = { 'org.cordon.landlock': 'off' }
    })
    const r = spawnSync(CORDON_OCI, ['--root', b.root, 'run', 'd1'], {
      cwd: b.dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^refused$/m)
    assert.match(r.stdout, /^fifo$/m, 'a FIFO is no device: still made')
    assert.equal(existsSync(join(b.dir, 'rootfs', 'tmp', 'sda')), false, 'no node on the bundle')
  })
})
