// DESIGN.md: no sandbox can change a host device node. A container's default devices (/dev/null,
// zero, full, random, urandom, tty) and the /dev/null over its masked files must not be the
// host's nodes writable through a bind: Docker's default capabilities include CAP_CHOWN and
// CAP_FOWNER, with which root in the container would chmod or chown the host's /dev/null.
// Checked without harm: the container sets each node's mode and owner to the ones it has, which
// changes the host node's ctime if it reaches it.
import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { describe, test } from 'node:test'

import { makeBundle, oci, ociSkip } from './bundle.js'

const skip = ociSkip('cordon-oci creates containers as root')

const NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty']
const CAPS = ['CAP_CHOWN', 'CAP_FOWNER', 'CAP_DAC_OVERRIDE', 'CAP_FSETID']

/** For each path: chmod and chown it to the mode and owner it has (no change but its ctime). */
const SCRIPT = [
  ...[...NODES.map((n) => `/dev/${n}`), '/proc/kcore', '/proc/keys'].map(
    (p) => `[ -e ${p} ] && { chmod $(stat -c %a ${p}) ${p}; chown $(stat -c %u:%g ${p}) ${p}; } 2>/dev/null`,
  ),
  'echo data > /dev/null && echo null-writes',
  'head -c 3 /dev/zero | wc -c',
].join('; ')

const ctimes = () => NODES.map((n) => [n, statSync(`/dev/${n}`).ctimeMs] as const)

describe("cordon-oci's devices are never the host's nodes, writable", { skip }, () => {
  for (const userns of [false, true])
    test(`a root container with CAP_CHOWN and CAP_FOWNER cannot chmod or chown a host device node${userns ? ' (user namespace mapping host root)' : ''}`, (t) => {
      const b = makeBundle(['sh', '-c', SCRIPT])
      t.after(() => b.cleanup())
      b.write((c) => {
        for (const set of ['bounding', 'effective', 'permitted'] as const)
          c.process!.capabilities![set] = [...(c.process!.capabilities![set] ?? []), ...CAPS]
        if (userns) {
          c.linux!.namespaces!.push({ type: 'user' })
          c.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }]
          c.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }]
          // A new user namespace cannot mount sysfs from the host's network namespace.
          c.mounts = c.mounts!.filter((m) => m.destination !== '/sys')
        }
      })
      const before = ctimes()
      const r = oci(b, ['run', userns ? 'd2' : 'd1'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^null-writes$/m, 'the devices still work')
      assert.match(r.stdout, /^3$/m)
      assert.deepEqual(ctimes(), before, "no host node's mode, owner or ctime changed")
      assert.equal(readFileSync('/dev/null', 'utf8'), '')
    })
})
