// The real targets `cordon verify` sets up on the host for the battery — a process to trace and
// signal, TCP and UDP ports and an abstract socket on loopback, host directories to write into,
// a directory to plant setuid files in, a root-only secret, the host's device nodes as they
// were, and (as root) a setuid-root fixture — and the policy that shows them to the sandbox.
import { type ChildProcess, spawn as spawnChild } from 'node:child_process'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:net'
import { dirname, join } from 'node:path'
import { CordonError } from '../errors.js'
import { under } from '../learn/paths.js'
import { latestAtEachPlace } from '../policy/view-paths.js'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolve.js'
import { missingBuild, probesPath } from '../host/launcher.js'
import { cleanupOnExit, makePrivateDir, removePrivateDir, sweepStale, unsafeBase } from './private-dir.js'

/** Where the probes and fixtures are bound in the view: on a file system the launcher mounts, so
 * that their mount points are never made in a host directory (the launcher refuses that, and a
 * `rw: /` policy would have kept them on the host). /.cordon-verify on the view's root tmpfs;
 * under a wide bind of `/`, in the view's private /dev, else its last tmpfs. The launcher mounts
 * parents first, so only an entry at the same place covers one. */
function probesDir(view: readonly ViewEntry[]): string {
  const fallback = '/.cordon-verify'
  if (!view.some((e) => e.kind === 'bind' && e.dest === '/')) return fallback
  const mounts = latestAtEachPlace(view).filter((e) => e.kind === 'dev' || e.kind === 'tmpfs')
  const dir = mounts.find((e) => e.kind === 'dev') ?? mounts.at(-1)
  return dir ? join(dir.dest, '.cordon-verify') : fallback
}

/** gVisor's tmpfs and /dev exist only in its own kernel: runsc's gofer makes each bind's mount
 * point on the host beneath them (through the policy's binds), so no place in the view is
 * private to the sandbox. The probes go at a path of verify's private directory instead, their
 * names made there first: a bind that shows the host's /tmp finds them, and they go with the
 * directory. */
function goferProbesDir(fx: Fixtures, suid: boolean): string {
  const dir = join(fx.privateDir, 'view')
  mkdirSync(join(dir, 'rw'), { recursive: true, mode: 0o755 })
  for (const name of ['cordon-probes', 'secret', ...(suid ? ['suid-fixture'] : [])])
    if (!existsSync(join(dir, name))) writeFileSync(join(dir, name), '', { mode: 0o600 })
  return dir
}

/** The file dev-write tries to leave in the host's /dev (removed as soon as it is checked). */
export const devTarget = () => `/dev/.cordon-verify-${process.pid}`

/** The host device nodes the device-metadata probe tries to change. */
export const DEVICE_NODES = ['/dev/null', '/dev/zero', '/dev/full'] as const

export interface Fixtures {
  sleeper: ChildProcess
  tcp: Server
  tcpPort: number
  udp: UdpSocket
  udpPort: number
  udpReceived: boolean
  abstract: Server
  abstractName: string
  writeTargets: string[]
  /** Where host-tmp-write tries to create a file: the host's /tmp. */
  tmpTarget: string
  /** A pathname UNIX socket listening on the host (in the private directory, mode 0666). */
  socketPath: string
  /** This run's private directory (0700, the caller's): see private-dir.ts. */
  privateDir: string
  /** Where setuid-plant plants (bound writable); checked on the host afterwards. */
  plantDir: string
  /** A 0600 root-owned file with a secret in it (root callers only). */
  secret?: string
  /** Each device node's metadata before the battery (mode, owner, times). */
  devices: Map<string, string>
  close(): void
}

const listen = (server: Server, options: { port?: number; host?: string; path?: string }) =>
  new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options, () => resolve())
  })

/** What the device-metadata probe may not change: mode, owner, mtime and ctime (the ctime
 * moves on any chmod, chown or utimensat the kernel lets through, even to the same values). */
export function deviceSignature(path: string): string {
  const st = lstatSync(path, { bigint: true, throwIfNoEntry: false })
  return st ? `${st.mode} ${st.uid}:${st.gid} ${st.mtimeNs} ${st.ctimeNs}` : 'missing'
}

/** The private directory, swept of a killed run's first, with the plant directory and the
 * secret in it; removed on every way out (see cleanupOnExit). */
function makePrivate(): { dir: string; plantDir: string; secret?: string } {
  const why = unsafeBase()
  if (why) throw new CordonError('setup_failed', `cordon verify needs a safe place for its fixtures: ${why}`)
  sweepStale()
  const dir = makePrivateDir()
  const plantDir = join(dir, 'rw')
  mkdirSync(plantDir, { mode: 0o755 })
  if (process.getuid?.() !== 0) return { dir, plantDir }
  const secret = join(dir, 'secret')
  writeFileSync(secret, `cordon verify: a root-only secret ${process.pid}\n`, { mode: 0o600 })
  return { dir, plantDir, secret }
}

export async function prepare(policy: ResolvedPolicy, home: string, cwd: string): Promise<Fixtures> {
  const priv = makePrivate()
  // The host process to trace and signal: `cat` on a pipe only verify holds, so it ends with
  // verify however verify ends (EOF), even killed.
  const sleeper = spawnChild('cat', [], { stdio: ['pipe', 'ignore', 'ignore'] })
  sleeper.stdin?.on('error', () => {})
  const stamp = `.cordon-verify-${process.pid}-${Date.now()}`
  const writable = policy.filesystem.filter(
    (e): e is Extract<ViewEntry, { kind: 'bind' }> => e.kind === 'bind' && !e.readOnly,
  )
  const writeTargets = [...new Set(['/etc', '/usr', '/var', home, dirname(cwd)])]
    .filter((d) => existsSync(d) && statSync(d).isDirectory())
    .filter((d) => !writable.some((b) => under(d, b.src)))
    .map((d) => join(d, stamp))
  // A name of its own: a project under /tmp puts /tmp among writeTargets, and the probe that
  // came second was refused EEXIST by the file the first had made in the sandbox's /tmp.
  const tmpTarget = join('/tmp', `${stamp}-tmp`)
  const servers: { close(): void }[] = []
  const close = () => {
    sleeper.kill('SIGKILL')
    for (const s of servers) s.close()
    removePrivateDir(priv.dir)
    for (const t of [...writeTargets, tmpTarget]) if (existsSync(t)) unlinkSync(t)
  }
  const release = cleanupOnExit(close)
  try {
    const tcp = createServer((s) => s.destroy())
    servers.push(tcp)
    await listen(tcp, { port: 0, host: '127.0.0.1' })
    const udp = createSocket('udp4')
    servers.push(udp)
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve))
    const abstractName = `cordon-verify-${process.pid}-${Date.now()}`
    const abstract = createServer((s) => s.destroy())
    servers.push(abstract)
    await listen(abstract, { path: `\0${abstractName}` })
    // Reachable by path for whoever may search the private directory (shareWithSandbox).
    const socketPath = join(priv.dir, 'sock')
    const unix = createServer((s) => s.destroy())
    servers.push(unix)
    await listen(unix, { path: socketPath })
    chmodSync(socketPath, 0o666)
    const fixtures: Fixtures = {
      sleeper,
      tcp,
      tcpPort: (tcp.address() as { port: number }).port,
      udp,
      udpPort: udp.address().port,
      udpReceived: false,
      abstract,
      abstractName,
      writeTargets,
      tmpTarget,
      socketPath,
      privateDir: priv.dir,
      plantDir: priv.plantDir,
      ...(priv.secret ? { secret: priv.secret } : {}),
      devices: new Map(DEVICE_NODES.map((d) => [d, deviceSignature(d)])),
      close: release,
    }
    udp.on('message', () => (fixtures.udpReceived = true))
    return fixtures
  } catch (e) {
    release()
    throw e
  }
}

/** Host devices the policy does not list that host-device tries to open: the host's terminals and
 * the world-openable ones (each only where this host has it). */
export function unlistedDevices(): string[] {
  let pts: string[] = []
  try {
    pts = readdirSync('/dev/pts')
      .filter((n) => /^\d+$/.test(n))
      .slice(0, 3)
      .map((n) => `/dev/pts/${n}`)
  } catch {}
  // /dev/userfaultfd gives what the userfaultfd call the filter refuses would (helper-158).
  return [
    ...pts,
    '/dev/fuse',
    '/dev/net/tun',
    '/dev/kmsg',
    '/dev/kvm',
    '/dev/vhost-vsock',
    '/dev/userfaultfd',
  ].filter((d) => existsSync(d))
}

/** Without a mount namespace the sandbox reaches the fixtures by their host paths, as its own host
 * ids: a root caller's sandbox runs as its id range (plan/compile.ts sandboxIdentity). The private
 * directory lets that group search it (0710, never list it), and the plant directory becomes the
 * sandbox's. The secret stays 0600 root's; no other host user gets in. */
export function shareWithSandbox(fx: Fixtures, uid: number, gid: number): void {
  if (process.getuid?.() !== 0 || uid === 0) return
  chownSync(fx.privateDir, 0, gid)
  chmodSync(fx.privateDir, 0o710)
  chownSync(fx.plantDir, uid, gid)
}

/** Host files in the plant directory that kept a setuid or setgid bit (lstat: never followed). */
export function plantedSetuid(fx: Fixtures): string[] {
  let names: string[] = []
  try {
    names = readdirSync(fx.plantDir)
  } catch {}
  return names.filter((n) => {
    const st = lstatSync(join(fx.plantDir, n), { throwIfNoEntry: false })
    return st?.isFile() && (st.mode & 0o6000) !== 0
  })
}

/** Where the setuid fixture lives on the host while its run lasts. */
export const suidFixturePath = (fx: Fixtures) => join(fx.privateDir, 'suid-fixture')

/** The setuid/setgid-root fixture (native/suid-fixture.c: no arguments, prints its ids), copied
 * into the private directory for the one run that uses it; the returned function removes it.
 * Only a root caller can make it. */
export function placeSuidFixture(fx: Fixtures): { path: string; remove(): void } {
  const built = join(dirname(probesPath()), 'cordon-suid-fixture')
  try {
    accessSync(built, constants.X_OK)
  } catch (cause) {
    throw missingBuild(
      `The setuid fixture ${built} is missing; build it with \`npm rebuild cordon\` (needs cc, make and a static libc)`,
      cause,
    )
  }
  const path = suidFixturePath(fx)
  copyFileSync(built, path, constants.COPYFILE_EXCL)
  chmodSync(path, 0o6755)
  return { path, remove: () => unlinkSync(path) }
}

/** Where the sandbox finds the battery and its fixtures. */
export interface ProbePaths {
  bin: string
  plantDir: string
  secret?: string
  suid?: string
}

/** The policy plus the probe binary and the fixtures, each bound on its own (a file or the plant
 * directory, never the private directory: the sandbox cannot list or reach anything else in
 * it). Without a mount namespace the sandbox sees host paths, opened up in Landlock. */
export function withProbes(
  policy: ResolvedPolicy,
  fx: Fixtures,
  suid?: string,
  backend: 'native' | 'runc' | 'gvisor' = 'native',
): { policy: ResolvedPolicy; paths: ProbePaths } {
  const hostBin = probesPath()
  const secret = fx.secret
  // Without a mount namespace the native sandbox sees the host's paths; a runtime's container
  // always has a root of the view's, where the probes are bound like any view's.
  if (!policy.namespaces.mount && backend === 'native') {
    const rule = (path: string, access: string) => ({ path, access: [access], optional: false })
    return {
      policy: {
        ...policy,
        landlock: {
          ...policy.landlock,
          paths: [
            ...policy.landlock.paths,
            rule(dirname(hostBin), 'rx'),
            rule(fx.plantDir, 'rw'),
            ...(secret ? [rule(secret, 'ro')] : []),
            ...(suid ? [rule(suid, 'rx')] : []),
          ],
        },
      },
      paths: {
        bin: hostBin,
        plantDir: fx.plantDir,
        ...(secret ? { secret } : {}),
        ...(suid ? { suid } : {}),
      },
    }
  }
  const dir = backend === 'gvisor' ? goferProbesDir(fx, suid !== undefined) : probesDir(policy.filesystem)
  const bind = (src: string, dest: string, readOnly = true): ViewEntry => ({
    kind: 'bind',
    src,
    dest,
    readOnly,
    optional: false,
  })
  return {
    policy: {
      ...policy,
      filesystem: [
        ...policy.filesystem,
        bind(hostBin, `${dir}/cordon-probes`),
        bind(fx.plantDir, `${dir}/rw`, false),
        ...(secret ? [bind(secret, `${dir}/secret`)] : []),
        ...(suid ? [bind(suid, `${dir}/suid-fixture`)] : []),
      ],
    },
    paths: {
      bin: `${dir}/cordon-probes`,
      plantDir: `${dir}/rw`,
      ...(secret ? { secret: `${dir}/secret` } : {}),
      ...(suid ? { suid: `${dir}/suid-fixture` } : {}),
    },
  }
}
