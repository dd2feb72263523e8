// linux.sysctl: written in the container's own namespaces (through the C entry point's launch
// helper, or nsenter without it), never the host's; a sysctl of no namespace, or of one the
// container shares with cordon-oci, is refused as runc refuses it.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'
import { type Bundle, CORDON_OCI, makeBundle, ociSkip, spawnOut, waitUntil } from './bundle.js'

const NODE_HALF = join(ROOT, 'bin', 'cordon-oci.cjs')
const READ =
  'cat /proc/sys/net/ipv4/ping_group_range /proc/sys/kernel/shmmni > /tmp/out; hostname >> /tmp/out'
const host = (key: string) => readFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8')

/** The runtime's two ways: the C entry (its helper writes), its Node half alone (nsenter). */
const WAYS = [
  { name: 'through the launch helper', runtime: undefined },
  { name: 'with nsenter (no helper)', runtime: NODE_HALF },
]

/** The runtime the way says, with --root. */
const oci = (b: Bundle, args: string[], way: { runtime: string | undefined } = WAYS[0]!) =>
  way.runtime
    ? spawnOut(process.execPath, [way.runtime, '--root', b.root, ...args])
    : spawnOut(CORDON_OCI, ['--root', b.root, ...args])

describe('cordon-oci linux.sysctl', { skip: ociSkip() }, () => {
  for (const way of WAYS) {
    test(`net, ipc and uts sysctls are the container's, ${way.name}`, (t) => {
      const b = makeBundle(['sh', '-c', READ])
      t.after(() => b.cleanup())
      const before = [host('net.ipv4.ping_group_range'), host('kernel.shmmni')]
      b.write((c) => {
        c.linux!.namespaces!.push({ type: 'cgroup' })
        c.hostname = 'config-name'
        c.linux!.sysctl = {
          'net.ipv4.ping_group_range': '0 1234',
          'kernel.shmmni': '1111',
          'kernel.hostname': 'sysctl-name',
        }
      })
      const id = `sysctl-${process.pid}`
      const r = oci(b, ['create', '--bundle', b.dir, id], way)
      assert.equal(r.status, 0, r.stderr)
      assert.equal(oci(b, ['start', id]).status, 0)
      waitUntil(() => /"stopped"/.test(oci(b, ['state', id]).stdout), 500)
      assert.equal(readFileSync(join(b.dir, 'rootfs', 'tmp', 'out'), 'utf8'), '0\t1234\n1111\nsysctl-name\n')
      assert.deepEqual([host('net.ipv4.ping_group_range'), host('kernel.shmmni')], before)
    })
  }

  test('create writes them through the helper: with no nsenter or sysctl(8) on PATH', (t) => {
    const b = makeBundle(['sh', '-c', READ])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.linux!.sysctl = { 'net.ipv4.ping_group_range': '0 4321', 'kernel.shmmni': '2222' }
    })
    const id = `sysctl-create-${process.pid}`
    const r = spawnOut(CORDON_OCI, ['--root', b.root, 'create', '--bundle', b.dir, id], {
      env: { PATH: '/nonexistent' },
    })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(oci(b, ['start', id]).status, 0)
    waitUntil(() => /"stopped"/.test(oci(b, ['state', id]).stdout), 500)
    assert.match(readFileSync(join(b.dir, 'rootfs', 'tmp', 'out'), 'utf8'), /^0\t4321\n2222\n/)
  })

  test("with a prestart hook too (Docker's config): the hook path writes them", (t) => {
    const b = makeBundle(['sh', '-c', READ])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/null'] }] }
      c.linux!.sysctl = { 'net.ipv4.ping_group_range': '0 5555', 'kernel.shmmni': '3333' }
    })
    const id = `sysctl-hook-${process.pid}`
    const r = oci(b, ['create', '--bundle', b.dir, id])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(oci(b, ['start', id]).status, 0)
    waitUntil(() => /"stopped"/.test(oci(b, ['state', id]).stdout), 500)
    assert.match(readFileSync(join(b.dir, 'rootfs', 'tmp', 'out'), 'utf8'), /^0\t5555\n3333\n/)
  })

  for (const way of WAYS)
    test(`a sysctl of no namespace is refused, ${way.name}, and the host's stays`, (t) => {
      const b = makeBundle(['true'])
      t.after(() => b.cleanup())
      const before = host('vm.swappiness')
      b.write((c) => {
        c.linux!.sysctl = { 'vm.swappiness': before.trim() === '37' ? '38' : '37' }
      })
      const r = oci(b, ['create', '--bundle', b.dir, 'no-ns'], way)
      assert.equal(r.status, 1)
      assert.match(r.stderr, /linux\.sysctl\["vm\.swappiness"\]: it is not a sysctl of a namespace/)
      assert.equal(host('vm.swappiness'), before)
    })

  test('a net sysctl without a network namespace of the container is refused', (t) => {
    const b = makeBundle(['true'])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'network')
      c.linux!.sysctl = { 'net.ipv4.ping_group_range': '0 1' }
    })
    const r = oci(b, ['create', '--bundle', b.dir, 'no-netns'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /the container has no "network" namespace/)
  })

  for (const way of WAYS)
    test(`cordon-oci's own network namespace joined by path is refused, ${way.name}`, (t) => {
      const b = makeBundle(['true'])
      t.after(() => b.cleanup())
      const before = host('net.ipv4.ping_group_range')
      b.write((c) => {
        c.linux!.namespaces = c.linux!.namespaces!.map((n) =>
          n.type === 'network' ? { type: 'network', path: `/proc/${process.pid}/ns/net` } : n,
        )
        c.linux!.sysctl = { 'net.ipv4.ping_group_range': '0 99' }
      })
      const r = oci(b, ['create', '--bundle', b.dir, 'own-netns'], way)
      assert.equal(r.status, 1)
      assert.match(r.stderr, /network namespace is cordon-oci's own/)
      assert.equal(host('net.ipv4.ping_group_range'), before)
    })

  test('a name that leaves /proc/sys is refused', (t) => {
    const b = makeBundle(['true'])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.linux!.sysctl = { 'net.ipv4/../../../etc/x': '1' }
    })
    const r = oci(b, ['create', '--bundle', b.dir, 'dots'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /expected a sysctl name like net\.ipv4\.ip_forward/)
  })
})
