// `cordon-oci exec` joins the container's namespaces: the launcher joins its user and pid
// namespaces before the clone, and its child joins the mount namespace only after the go. In
// between, the child is a process of the container's pid namespace, of its user namespace and
// ids, with every capability there, no Landlock domain yet, and the host's root. Dumpable (as
// every launcher was), a container process with CAP_SYS_PTRACE in its user namespace (or all of
// the child's capabilities) read the host's files through /proc/PID/root and could ptrace the
// child (runc's CVE-2016-9962; runc's init is non-dumpable). On this host the container's own
// Landlock domain refuses that ptrace access as well; the watcher here enters the container's
// namespaces with nsenter, outside any domain, as a container process does on a kernel
// without Landlock, and opens /proc/PID/root/etc/os-release (absent from the rootfs) of every
// process it sees while execs run.
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { ROOT } from '../helpers.js'
import { CORDON_OCI, makeBundle, oci, ociSkip } from './bundle.js'

const skip =
  ociSkip() ||
  (spawnSync('nsenter', ['--version']).status !== 0 ? 'needs nsenter (util-linux)' : false) ||
  (spawnSync('cc', ['--version']).status !== 0 ? 'needs a C compiler' : false)

test(
  'an exec is out of reach of the container before it enters the container’s root',
  { skip },
  async (t) => {
    const b = makeBundle(['sleep', '120'])
    const id = `exec-reach-${process.pid}`
    t.after(() => b.cleanup())
    const watcher = join(b.dir, 'rootfs', 'bin', 'exec-reach')
    const built = spawnSync('cc', [
      '-O2',
      '-static',
      '-o',
      watcher,
      join(ROOT, 'test', 'oci-runtime', 'exec-reach.c'),
    ])
    if (built.status !== 0) return t.skip('cannot link a static program here (no static libc)')
    b.write((c) => {
      c.linux!.namespaces!.push({ type: 'user' })
      c.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }]
      c.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }]
    })
    const r = oci(b, ['run', '-d', id])
    assert.equal(r.status, 0, r.stderr)
    const pid = (JSON.parse(oci(b, ['state', id]).stdout) as { pid: number }).pid
    // No fork: it stays out of the container's pid namespace, where it would be pid 1's child
    // and its exit would not be awaited; it sees the container's /proc through its root.
    const watch = spawn('nsenter', ['-t', String(pid), '-U', '-m', '-r', '-w', '/bin/exec-reach', '6'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    watch.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const done = new Promise<void>((resolve) => watch.on('close', () => resolve()))
    while (!out.includes('watching') && watch.exitCode === null) await new Promise((ok) => setTimeout(ok, 20))
    for (let i = 0; i < 10; i++) {
      const e = spawnSync(CORDON_OCI, ['--root', b.root, 'exec', id, '/bin/busybox', 'true'], {
        encoding: 'utf8',
      })
      assert.equal(e.status, 0, e.stderr)
    }
    await done
    assert.match(out, /^hits \d+$/m, out)
    assert.match(out, /^hits 0$/m, `the host's root reached through an exec's process:\n${out}`)
    execFileSync(CORDON_OCI, ['--root', b.root, 'delete', '--force', id])
  },
)
