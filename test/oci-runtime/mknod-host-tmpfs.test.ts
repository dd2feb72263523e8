// DESIGN.md: no sandbox can leave a device node behind on the host. cordon-oci makes a
// `linux.devices` node (mknod, as root, before the container runs) only on a tmpfs of the view:
// the compiler decides by the node's path, and the launcher checked that the directory is on
// a tmpfs. A host tmpfs bound into the view (/dev/shm, a /run directory) is a tmpfs too, and the
// path the compiler judged is not always the directory the launcher reaches: a `.` in the path,
// or a symlink of the rootfs that a bind's destination goes through, puts the bind where the
// compiler sees the view's tmpfs. The node was then made in the host's directory, a host disk's
// node owned by whom the config said, left behind. The launcher now makes a node only on a mount
// it made itself, as a fresh tmpfs, told by its mount id.
import assert from 'node:assert/strict'
import { lstatSync, mkdirSync, readdirSync, rmSync, statfsSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'

import { makeBundle, oci, ociSkip } from './bundle.js'

const TMPFS_MAGIC = 0x01021994
const hostTmpfs = '/dev/shm'
const skip =
  ociSkip('cordon-oci makes a root container here') ||
  (statfsSync(hostTmpfs).type !== TMPFS_MAGIC ? `${hostTmpfs} is not a tmpfs on this host` : false)

const cases = [
  { name: 'a `.` in the node path', node: '/mnt/t/./host/sda', dest: '/mnt/t/host', link: undefined },
  { name: "a rootfs symlink on the bind's way", node: '/mnt/t/sda', dest: '/via', link: 'mnt/t' },
]

describe('a linux.devices node on a host tmpfs bound into the view', { skip }, () => {
  for (const c of cases)
    test(`is refused, never made on the host (${c.name})`, (t) => {
      const host = join(hostTmpfs, `cordon-mknod-${process.pid}`)
      mkdirSync(host, { mode: 0o755 })
      t.after(() => rmSync(host, { recursive: true, force: true }))
      const b = makeBundle(['sh', '-c', 'echo ran'])
      t.after(() => b.cleanup())
      if (c.link) symlinkSync(c.link, join(b.dir, 'rootfs', c.dest.slice(1)))
      b.write((config) => {
        config.mounts = [
          ...(config.mounts ?? []),
          { destination: '/mnt/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] },
          { destination: c.dest, type: 'bind', source: host, options: ['rbind', 'rw'] },
        ]
        config.linux!.devices = [
          { path: c.node, type: 'b', major: 8, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
        ]
      })
      const r = oci(b, ['run', `mk${cases.indexOf(c)}`])
      const left = readdirSync(host).map((n) => `${n} ${lstatSync(join(host, n)).mode.toString(8)}`)
      assert.deepEqual(left, [], `a node was made on the host's tmpfs (exit ${r.status}): ${r.stderr}`)
      assert.notEqual(r.status, 0, 'the container is refused, with the reason')
      assert.match(r.stderr, /mknod/)
    })
})
