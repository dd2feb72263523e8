// create's launch helper (native/oci-launch.h): the C entry point forks it before Node, and it
// runs the launcher for Node, which then never loads node:child_process. The launcher must get
// what Node's spawnSync gave it, and nothing more.
import assert from 'node:assert/strict'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'
import { CORDON_OCI, makeBundle, ociSkip, spawnOut, waitUntil } from './bundle.js'

const NODE_HALF = join(ROOT, 'bin', 'cordon-oci.cjs')
const FDS = 'ls /proc/self/fd > /tmp/out; env >> /tmp/out'

describe("cordon-oci create's launch helper", { skip: ociSkip() }, () => {
  for (const preserve of [0, 1])
    test(`the container gets fds 0-2${preserve ? ' and the preserved fd 3' : ''}, and not the helper's socket or its variable`, (t) => {
      const b = makeBundle(['sh', '-c', FDS])
      t.after(() => b.cleanup())
      const id = `helper-fds-${process.pid}-${preserve}`
      const extra = openSync('/dev/null', 'r')
      t.after(() => closeSync(extra))
      const r = spawnOut(
        CORDON_OCI,
        ['--root', b.root, 'create', '--bundle', b.dir, '--preserve-fds', String(preserve), id],
        { extra },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.equal(spawnOut(CORDON_OCI, ['--root', b.root, 'start', id]).status, 0)
      waitUntil(() => /"stopped"/.test(spawnOut(CORDON_OCI, ['--root', b.root, 'state', id]).stdout), 500)
      const out = readFileSync(join(b.dir, 'rootfs', 'tmp', 'out'), 'utf8')
      const fds = out
        .split('\n')
        .filter((l) => /^\d+$/.test(l))
        .map(Number)
      // ls's own directory fd is the last one.
      assert.deepEqual(fds.slice(0, -1), preserve ? [0, 1, 2, 3] : [0, 1, 2])
      assert.doesNotMatch(out, /CORDON_OCI_LAUNCH_FD/)
    })

  test('a launcher that cannot run fails create with the same message with or without the helper', (t) => {
    const b = makeBundle(['true'])
    t.after(() => b.cleanup())
    const env = { CORDON_LAUNCHER: '/nonexistent/cordon-exec' }
    const c = spawnOut(CORDON_OCI, ['--root', b.root, 'create', '--bundle', b.dir, 'no-launcher'], { env })
    const n = spawnOut(
      process.execPath,
      [NODE_HALF, '--root', b.root, 'create', '--bundle', b.dir, 'no-launcher'],
      { env },
    )
    assert.equal(c.status, 1)
    assert.equal(n.status, 1)
    assert.equal(c.stderr, n.stderr)
    assert.match(c.stderr, /cannot run the launcher: spawnSync \/nonexistent\/cordon-exec ENOENT/)
    assert.equal(spawnOut(CORDON_OCI, ['--root', b.root, 'list', '-q']).stdout, '')
  })
})
