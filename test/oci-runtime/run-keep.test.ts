// `run --keep` of a command that ends at once: runForeground looks for the launcher's pid file
// every 5 ms, and a container that ran and ended between two looks was taken for one that never
// started: its directory and groups were removed although it exited 0, so `state` found no such
// container and `exec` said it had no exec context (CI, oci-runtime/exec "exec into a stopped
// container is refused", under load).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makeBundle, oci, ociSkip } from './bundle.js'

const skip = ociSkip('cordon-oci creates containers as root')

test('run --keep of a command that ends at once leaves a stopped container', { skip }, (t) => {
  const b = makeBundle(['sh', '-c', 'exit 0'])
  t.after(() => b.cleanup())
  for (let i = 0; i < 15; i++) {
    const id = `keep-${process.pid}-${i}`
    const r = oci(b, ['run', '--keep', id])
    assert.equal(r.status, 0, r.stderr)
    const state = oci(b, ['state', id])
    assert.equal(state.status, 0, `run ${i}: ${state.stderr}`)
    assert.equal((JSON.parse(state.stdout) as { status: string }).status, 'stopped')
    assert.match(oci(b, ['exec', id, 'sh']).stderr, /stopped/)
    assert.equal(oci(b, ['delete', id]).status, 0)
  }
})
