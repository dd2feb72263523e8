// linux.resources.devices on cgroup v2, which has no devices controller. cordon-oci accepted a
// deny-all rule there with nothing behind it: a node in the container's view (linux.devices,
// a bind of the host's /dev) opened whatever the rules said. The rules are now an eBPF
// program the launcher attaches to the container's group, as runc's; both runtimes run here
// side by side on a pure cgroup v2 layout (this host is hybrid: the tests mount its cgroup2
// hierarchy alone at /sys/fs/cgroup in a mount namespace of their own).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { compileDeviceFilter } from '../../src/oci-runtime/device-filter.js'
import { ensureTestUser } from '../helpers.js'
import type { OciConfig, OciDeviceRule } from '../../src/oci-runtime/spec.js'
import { type Bundle, CORDON_OCI, makeBundle, oci, ociSkip, RUNC } from './bundle.js'

const V2_ONLY = 'umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"'

const skip =
  ociSkip('cordon-oci and runc make root containers here', 'the reference') ||
  (!readFileSync('/proc/filesystems', 'utf8').includes('cgroup2') ? 'no cgroup2 on this kernel' : false) ||
  (!existsSync('/dev/fuse') ? 'needs /dev/fuse (10:229) as the device to open' : false)

/** Opens /dev/fuse (a harmless misc device: opening it starts nothing) for reading, then for
 * writing, and /dev/null, printing each result. */
const PROBE = [
  'sh',
  '-c',
  'for m in r w; do if [ $m = r ]; then (: </dev/fuse); else (: >/dev/fuse); fi 2>/dev/null && echo fuse-$m=ok || echo fuse-$m=denied; done; (: >/dev/null) && echo null=ok',
]

/** The runtime with args, in a mount namespace where /sys/fs/cgroup is cgroup2 alone: oci()
 * with `unshare … sh -c V2_ONLY sh` before the runtime (output in files: a created container
 * keeps the runtime's open). */
const onV2 = (b: Bundle, runtime: string, args: string[]) => {
  const wrapper = join(b.dir, 'on-v2.sh')
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec unshare -m --propagation private sh -c '${V2_ONLY}' sh ${runtime} "$@"\n`,
    { mode: 0o755 },
  )
  return oci(b, args, wrapper)
}

function bundleWith(args: string[], rules: OciDeviceRule[]): Bundle {
  const b = makeBundle(args)
  b.write((c: OciConfig) => {
    c.linux!.devices = [
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
    ]
    c.linux!.resources = rules.length ? { devices: rules } : {} // none: not even an empty list
    c.annotations = { 'org.cordon.landlock': 'off' } // the program alone, no other layer
  })
  return b
}

function runIn(runtime: string, rules: OciDeviceRule[], id: string, v1 = false): string {
  const b = bundleWith(PROBE, rules)
  try {
    const r = v1 ? oci(b, ['run', id], runtime) : onV2(b, runtime, ['run', id])
    assert.equal(r.status, 0, `${runtime}: ${r.stderr}`)
    return r.stdout
  } finally {
    b.cleanup()
  }
}

const CASES: { name: string; rules: OciDeviceRule[]; want: string }[] = [
  {
    name: 'a deny-all rule (runc spec, engines) denies a node outside runc’s default devices',
    rules: [{ allow: false, access: 'rwm' }],
    want: 'fuse-r=denied\nfuse-w=denied\nnull=ok\n',
  },
  {
    name: 'an allow rule after it opens that node for its rights only',
    rules: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'r' },
    ],
    want: 'fuse-r=ok\nfuse-w=denied\nnull=ok\n',
  },
  {
    name: 'a deny rule after an allow-all closes that node',
    rules: [
      { allow: true, access: 'rwm' },
      { allow: false, type: 'c', major: 10, minor: 229, access: 'w' },
    ],
    want: 'fuse-r=ok\nfuse-w=denied\nnull=ok\n',
  },
]

// Rules that do not start with a deny-all: runc starts from "deny every device" (its emulator,
// libcontainer/cgroups/devices), where cordon-oci's program, and its writes to a new v1 group,
// started from "allow every device"; and an "a" rule resets the list whatever its numbers and
// access say, where the program matched only those numbers and rights. Each left /dev/fuse
// writable where runc denies it.
const NO_RESET: typeof CASES = [
  {
    name: 'allow rules alone open only their nodes',
    rules: [{ allow: true, type: 'c', major: 10, minor: 229, access: 'r' }],
    want: 'fuse-r=ok\nfuse-w=denied\nnull=ok\n',
  },
  {
    name: 'an "a" deny rule with an access subset denies every device',
    rules: [
      { allow: false, type: 'a', access: 'r' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'r' },
    ],
    want: 'fuse-r=ok\nfuse-w=denied\nnull=ok\n',
  },
  {
    name: 'an "a" deny rule with numbers denies every device',
    rules: [{ allow: false, type: 'a', major: 4, minor: 1, access: 'rwm' }],
    want: 'fuse-r=denied\nfuse-w=denied\nnull=ok\n',
  },
]

// No linux.resources.devices at all: runc applies its default rules (deny every device but
// null, zero, full, random, urandom, tty, ptmx, pts, tun and mknod), where cordon-oci applied
// none, on cgroup v1 as on v2, and /dev/fuse of linux.devices opened for reading and writing.
NO_RESET.push({
  name: 'a spec without device rules gets runc’s default rules',
  rules: [],
  want: 'fuse-r=denied\nfuse-w=denied\nnull=ok\n',
})

const v1Skip = !existsSync('/sys/fs/cgroup/devices/devices.deny')
  ? 'no cgroup v1 devices controller here'
  : false

describe('device rules that do not start with a deny-all, as under runc', { skip }, () => {
  for (const [i, c] of NO_RESET.entries()) {
    test(`cgroup v2: ${c.name}`, () => {
      assert.equal(runIn(CORDON_OCI, c.rules, `devnr-${process.pid}-${i}`), c.want, 'cordon-oci')
      assert.equal(runIn(RUNC, c.rules, `devnr-runc-${process.pid}-${i}`), c.want, 'runc')
    })
    test(`cgroup v1: ${c.name}`, { skip: v1Skip }, () => {
      assert.equal(runIn(CORDON_OCI, c.rules, `devnr1-${process.pid}-${i}`, true), c.want, 'cordon-oci')
      assert.equal(runIn(RUNC, c.rules, `devnr1-runc-${process.pid}-${i}`, true), c.want, 'runc')
    })
  }
})

describe('cgroup v2 device rules', { skip }, () => {
  for (const [i, c] of CASES.entries())
    test(`${c.name}, as under runc`, () => {
      assert.equal(runIn(CORDON_OCI, c.rules, `devv2-${process.pid}-${i}`), c.want, 'cordon-oci')
      assert.equal(runIn(RUNC, c.rules, `devv2-runc-${process.pid}-${i}`), c.want, 'runc')
    })

  test('update refuses device rules (the program is set at create)', (t) => {
    const b = bundleWith(['sleep', '30'], [{ allow: false, access: 'rwm' }])
    const id = `devv2-update-${process.pid}`
    t.after(() => {
      onV2(b, CORDON_OCI, ['delete', '--force', id]) // its group is in the cgroup2 hierarchy
      b.cleanup()
    })
    assert.equal(onV2(b, CORDON_OCI, ['create', id]).status, 0)
    const file = join(b.dir, 'resources.json')
    writeFileSync(file, JSON.stringify({ devices: [{ allow: true, access: 'rwm' }] }))
    const r = oci(b, ['update', '--resources', file, id])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /linux\.resources\.devices: .*recreate the container/)
  })
})

test('device rules compile to whole eBPF instructions; a bad access letter is refused by name', () => {
  const prog = compileDeviceFilter([{ allow: false, access: 'rwm' }], 'linux.resources.devices')
  assert.equal(prog.length % 8, 0)
  assert.throws(
    () => compileDeviceFilter([{ allow: true, type: 'c', access: 'rx' }], 'linux.resources.devices'),
    /linux\.resources\.devices\[0\]\.access/,
  )
})

// Where runc's default rules cannot apply, the container runs without them and says so: a
// plain user's rootless container (no cgroup of its own here, or on cgroup v2 a delegated group
// where it may not load a device program) gets the warning in the runtime's log, as runc's.
test(
  'a plain user’s container without device rules runs, and its log says the defaults are not enforced',
  { skip: ociSkip('the test user is made by root') },
  (t) => {
    const user = ensureTestUser()
    const b = makeBundle(['sh', '-c', 'exit 0'])
    t.after(() => b.cleanup())
    b.write((c: OciConfig) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'network' && n.type !== 'cgroup')
      c.linux!.namespaces.push({ type: 'user' })
      c.linux!.uidMappings = [{ containerID: 0, hostID: user.uid, size: 1 }]
      c.linux!.gidMappings = [{ containerID: 0, hostID: user.gid, size: 1 }]
      delete c.linux!.resources
      c.mounts = c.mounts!.filter(
        (m) => m.type !== 'sysfs' && m.type !== 'cgroup' && m.destination !== '/dev/pts',
      )
    })
    spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, b.dir, b.root])
    chmodSync(b.dir, 0o755)
    const log = join(b.dir, 'log')
    const r = spawnSync(CORDON_OCI, ['--root', join(b.root, 'state'), '--log', log, 'run', 'dr1'], {
      cwd: b.dir,
      uid: user.uid,
      gid: user.gid,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin', NODE_EXTRA_CA_CERTS: '' },
    })
    assert.equal(r.status, 0, r.stderr)
    assert.match(
      readFileSync(log, 'utf8'),
      /level=warning msg=".*runc's default device rules are not enforced \((the container has no cgroup of its own|cgroup v2 device programs need CAP_SYS_ADMIN[^)]*)\)/,
    )
  },
)
