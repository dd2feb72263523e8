// Build step: `create`'s own code run once on a sample container, in a scratch directory, with
// no cgroup made and no launcher started (create.ts rehearseCreate), so that the V8 code cache
// `npm run build` writes for the CommonJS bundle (bin/cordon-oci.cjs writeCodeCache) holds
// those functions compiled. Without it V8 compiles each one lazily at every create: config →
// plan, the cgroup code, the launch helper's requests, the seccomp compiler, the plan encoder
// (README, "cordon as an OCI runtime", start-up). The cache holds bytecode only, never values:
// what the sample computes is thrown away.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ARCHES, HOST_ARCHES, type HostArch } from '../seccomp/arch.js'
import { cgroupPath, type Hierarchy, hierarchies } from './cgroups.js'
import { BUILD, filterInput, storeFilter } from './seccomp-cache.js'
import type { OciConfig } from './spec.js'

const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID']

/** What engines hand a runtime, in small: `runc spec`'s default plus a seccomp profile of
 * each rule shape Docker's and Podman's defaults use (names, an argument, a masked argument). */
const SAMPLE: OciConfig = {
  ociVersion: '1.2.0',
  process: {
    terminal: false,
    user: { uid: 0, gid: 0 },
    args: ['/bin/true'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=warm-up'],
    cwd: '/',
    capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  },
  root: { path: 'rootfs', readonly: true },
  hostname: 'warm-up',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
  ],
  linux: {
    cgroupsPath: '/cordon-oci/warm-up',
    resources: { devices: [{ allow: false, access: 'rwm' }], cpu: { shares: 1024 } },
    namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    maskedPaths: ['/proc/kcore', '/proc/keys', '/sys/firmware'],
    readonlyPaths: ['/proc/bus', '/proc/sys', '/proc/sysrq-trigger'],
    sysctl: { 'net.ipv4.ping_group_range': '0 0' },
    seccomp: {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      // This host's entry points, as an engine's profile names them (the arches' one home).
      architectures: (HOST_ARCHES[process.arch as HostArch]?.entries ?? []).map((a) => ARCHES[a].scmp),
      syscalls: [
        {
          names: ['read', 'write', 'openat', 'close', 'mmap', 'execve', 'exit_group', 'futex'],
          action: 'SCMP_ACT_ALLOW',
        },
        {
          names: ['personality'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }],
        },
        {
          names: ['clone'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        },
        { names: ['ptrace'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      ],
    },
  },
}

/** SAMPLE as a plain user builds it (`runc spec --rootless`'s way): a user namespace mapping
 * only their own ids, no resources. */
function rootless(config: OciConfig, uid: number, gid: number): OciConfig {
  const linux = { ...config.linux, namespaces: [...(config.linux?.namespaces ?? []), { type: 'user' }] }
  delete linux.resources
  return {
    ...config,
    linux: {
      ...linux,
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
    },
  }
}

/** What create reads and writes in a group of the sample's (cgroups.ts: the cpuset inherited
 * from the parent, cpu shares, device rules), for the scratch groups. */
const GROUP_FILES = [
  'cpuset.cpus',
  'cpuset.mems',
  'cpu.shares',
  'cpu.weight',
  'devices.allow',
  'devices.deny',
]

/** The host's cgroup hierarchies laid out as plain directories under dir, each holding the
 * sample's group (and its parents) with GROUP_FILES: create's cgroup code runs on them whole,
 * down the host's own path (v1, v2 or both), and no cgroup is made. */
function scratchHierarchies(dir: string): Hierarchy[] {
  const rel = cgroupPath(SAMPLE.linux?.cgroupsPath, 'warm-up')
  return hierarchies().map((h, i) => {
    const mount = join(dir, String(i))
    let at = mount
    for (const part of ['', ...rel.split('/').filter(Boolean)]) {
      at = join(at, part)
      mkdirSync(at, { recursive: true })
      for (const f of GROUP_FILES) writeFileSync(join(at, f), '0\n')
    }
    return { ...h, mount }
  })
}

/** A stand-in for the sample's compiled filter in the scratch state root's seccomp cache
 * (seccomp-cache.ts; never run: no launcher starts), so that both rehearsals take the cache's
 * hit path, as an engine's every container after its first does. The seccomp compiler, which
 * runs only on a miss (once per profile, bounding set and state root), then stays out of the
 * code cache, which every create deserializes whole. */
function standInFilter(root: string, config: OciConfig): void {
  const seccomp = config.linux?.seccomp
  if (BUILD === undefined || !seccomp) return
  mkdirSync(root, { mode: 0o700 })
  const input = filterInput(BUILD, seccomp, config.process?.capabilities?.bounding ?? [])
  storeFilter(root, input, { program: new Uint8Array(8), note: 'warm-up stand-in' })
}

/** A scratch bundle (SAMPLE, an empty rootfs), state root and cgroup hierarchies; cleanup()
 * removes them. */
export function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-warm-up-'))
  const bundle = join(dir, 'bundle')
  for (const d of ['proc', 'dev', 'sys', 'tmp']) mkdirSync(join(bundle, 'rootfs', d), { recursive: true })
  const uid = process.geteuid?.() ?? 0
  const config = uid === 0 ? SAMPLE : rootless(SAMPLE, uid, process.getegid?.() ?? 0)
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config))
  const root = join(dir, 'state')
  standInFilter(root, JSON.parse(JSON.stringify(config)) as OciConfig) // as create reads it
  return {
    bundle,
    root,
    log: join(dir, 'log.json'),
    pidFile: join(dir, 'pid'),
    hierarchies: scratchHierarchies(join(dir, 'cgroup')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}
