// Real container engines (Docker, Podman, containerd) driving a runc-compatible runtime given
// by path, each started privately here: its own data root, sockets and state under one work
// directory, vfs/native storage (no overlay requirements), no network set-up (no bridge, no
// iptables), so a run leaves nothing on the host once stop() and the directory's removal ran.
// The image is built offline from the host's busybox-static: a rootfs tree, imported as a tar
// by Docker and Podman, and as a hand-written OCI image archive by containerd.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

export type EngineName = 'docker' | 'podman' | 'containerd'

/** The Debian package behind each engine, and the commands it must provide. */
export const ENGINES: Readonly<Record<EngineName, { pkg: string; commands: string[] }>> = {
  docker: { pkg: 'docker.io', commands: ['dockerd', 'docker'] },
  podman: { pkg: 'podman', commands: ['podman', 'conmon'] },
  containerd: { pkg: 'containerd', commands: ['containerd', 'ctr', 'containerd-shim-runc-v2'] },
}

const found = (cmd: string) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd]).status === 0

/** Why an engine cannot run here, or undefined. */
export function engineMissing(name: EngineName): string | undefined {
  const { pkg, commands } = ENGINES[name]
  const gone = commands.filter((c) => !found(c))
  return gone.length ? `${gone.join(', ')} not installed (apt-get install ${pkg})` : undefined
}

export const BUSYBOX = '/bin/busybox'
/** The name every engine knows the test image by. */
export const IMAGE = 'localhost/cordon-oci-test:latest'

export interface Result {
  status: number | null
  stdout: string
  stderr: string
  ms: number
}

function settle(r: SpawnSyncReturns<string>, started: number): Result {
  return {
    status: r.status,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? String(r.error) : ''),
    ms: performance.now() - started,
  }
}

export function runCmd(cmd: string, args: string[], timeoutMs = 120_000): Result {
  const started = performance.now()
  return settle(
    spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }),
    started,
  )
}

/** A minimal root file system: static busybox with its applets, root and nobody, and extra
 * files copied in (the escape battery's static binary). */
export function writeRootfs(dir: string, extras: { src: string; dest: string }[] = []): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'usr/local/bin', 'var/tmp'])
    mkdirSync(join(dir, d), { recursive: true })
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'))
  const applets = runCmd(BUSYBOX, ['--list']).stdout.split('\n').filter(Boolean)
  for (const a of applets)
    if (a !== 'busybox' && !a.includes('/')) symlinkSync('busybox', join(dir, 'bin', a))
  writeFileSync(
    join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  )
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n')
  for (const { src, dest } of extras) {
    mkdirSync(join(dir, dest, '..'), { recursive: true })
    copyFileSync(src, join(dir, dest))
  }
}

export function tarOf(dir: string): Buffer {
  const r = spawnSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', '-', '.'], {
    maxBuffer: 1 << 30,
  })
  if (r.status !== 0) throw new Error(`tar ${dir}: ${String(r.stderr)}`)
  return r.stdout
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`

/** An OCI image layout archive of one layer, named for containerd (`ctr image import`). */
export function writeOciArchive(rootfs: string, out: string, work: string): void {
  const layout = join(work, 'oci-layout-dir')
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true })
  const blob = (data: Buffer | string) => {
    const digest = sha(data)
    writeFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), data)
    return { digest, size: Buffer.byteLength(data) }
  }
  const tar = tarOf(rootfs)
  const layer = blob(gzipSync(tar))
  const config = blob(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/bin:/bin'], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [sha(tar)] },
    }),
  )
  const manifest = blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
    }),
  )
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'io.containerd.image.name': IMAGE, 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  )
  writeFileSync(out, tarOf(layout))
}

/** Starts a daemon with its output in a log file, and waits for its socket. */
async function startDaemon(cmd: string, args: string[], log: string, socket: string, timeoutMs = 60_000) {
  const fd = openSync(log, 'a')
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const deadline = Date.now() + timeoutMs
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${cmd} did not start (log ${log}):\n${readFileSync(log, 'utf8').slice(-2000)}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  // Stops the daemon and what it started in its process group (dockerd's containerd).
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return
    child.kill('SIGTERM')
    const killed = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {}
    }, 20_000)
    await exited
    clearTimeout(killed)
  }
  return { stop }
}

export interface Engine {
  name: EngineName
  /** Runs `sh -c SCRIPT` in a fresh container of IMAGE under the runtime at `runtime`. */
  run(runtime: string, script: string, extra?: string[]): Result
  /** The engine's own command line (docker, podman, ctr) with its private daemon or stores;
   * `runtime` selects it where the engine takes it per command (podman). */
  cli(args: string[], runtime?: string): Result
  stop(): Promise<void>
}

/** dockerd with `runtimes` in its daemon.json: every runtime is registered under its own name,
 * `docker run --runtime NAME`. runc is Docker's own default and cannot be re-registered. */
export async function startDocker(
  work: string,
  runtimes: Record<string, string>,
  rootfsTar: string,
): Promise<Engine> {
  const dir = join(work, 'docker')
  mkdirSync(dir, { recursive: true })
  const socket = join(dir, 'docker.sock')
  const config = join(dir, 'daemon.json')
  const named = Object.fromEntries(Object.entries(runtimes).filter(([n]) => n !== 'runc'))
  writeFileSync(
    config,
    JSON.stringify({ runtimes: Object.fromEntries(Object.entries(named).map(([n, path]) => [n, { path }])) }),
  )
  const daemon = await startDaemon(
    'dockerd',
    [
      '--config-file', config,
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'dockerd.pid'),
      '--host', `unix://${socket}`,
      '--storage-driver', 'vfs',
      '--bridge', 'none',
      '--iptables=false',
      '--ip-masq=false',
    ], // prettier-ignore
    join(dir, 'dockerd.log'),
    socket,
  )
  const docker = (args: string[], timeoutMs?: number) =>
    runCmd('docker', ['--host', `unix://${socket}`, ...args], timeoutMs)
  const imported = docker(['import', rootfsTar, IMAGE])
  if (imported.status !== 0) {
    await daemon.stop()
    throw new Error(`docker import: ${imported.stderr}`)
  }
  const byPath = new Map(Object.entries(runtimes).map(([n, p]) => [p, n]))
  return {
    name: 'docker',
    run: (runtime, script, extra = []) => {
      const name = byPath.get(runtime)
      if (!name) throw new Error(`${runtime} is not registered in daemon.json`)
      return docker([
        'run',
        '--rm',
        '--runtime',
        name,
        '--network',
        'none',
        ...extra,
        IMAGE,
        'sh',
        '-c',
        script,
      ])
    },
    cli: (args) => docker(args),
    stop: daemon.stop,
  }
}

/** Podman takes the runtime per command (`podman --runtime PATH`); no daemon. */
export function startPodman(work: string, rootfsTar: string): Engine {
  const dir = join(work, 'podman')
  mkdirSync(join(dir, 'tmp'), { recursive: true })
  const podman = (args: string[], runtime?: string) =>
    runCmd('podman', [
      '--root', join(dir, 'root'),
      '--runroot', join(dir, 'run'),
      '--tmpdir', join(dir, 'tmp'),
      '--storage-driver', 'vfs',
      '--cgroup-manager', 'cgroupfs',
      '--events-backend', 'none',
      ...(runtime ? ['--runtime', runtime] : []),
      ...args,
    ]) // prettier-ignore
  const imported = podman(['import', rootfsTar, IMAGE])
  if (imported.status !== 0) throw new Error(`podman import: ${imported.stderr}`)
  return {
    name: 'podman',
    run: (runtime, script, extra = []) =>
      podman(
        ['run', '--rm', '--network', 'none', ...ownLimits(), ...extra, IMAGE, 'sh', '-c', script],
        runtime,
      ),
    cli: (args, runtime) => podman(args, runtime),
    stop: () => {
      podman(['rm', '--all', '--force'])
      podman(['system', 'reset', '--force'])
      return Promise.resolve()
    },
  }
}

/** Podman raises RLIMIT_NOFILE and RLIMIT_NPROC for root (to 1048576 and more), which needs
 * CAP_SYS_RESOURCE: a host that withholds it from root (this one is itself a container) gets
 * EPERM from any runtime. The container keeps the caller's open-file limit, and 32768 processes
 * (measured here: the caller's 96362 fails the same way, 32768 passes; something on podman's
 * path holds a lower hard limit). */
export function ownLimits(): string[] {
  const files = /^Max open files\s+(\d+)\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  return [...(files ? ['--ulimit', `nofile=${files[1]}:${files[2]}`] : []), '--ulimit', 'nproc=32768:32768']
}

/** A private containerd (no CRI plugin); `ctr run --runc-binary PATH` picks the runtime. */
export async function startContainerd(work: string, ociArchive: string): Promise<Engine> {
  const dir = join(work, 'containerd')
  mkdirSync(dir, { recursive: true })
  const socket = join(dir, 'containerd.sock')
  const config = join(dir, 'config.toml')
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '',
    ].join('\n'),
  )
  const daemon = await startDaemon('containerd', ['--config', config], join(dir, 'containerd.log'), socket)
  const ctr = (args: string[]) => runCmd('ctr', ['--address', socket, '--namespace', 'cordon-test', ...args])
  const imported = ctr(['image', 'import', '--snapshotter', 'native', ociArchive])
  if (imported.status !== 0) {
    await daemon.stop()
    throw new Error(`ctr image import: ${imported.stderr}`)
  }
  let n = 0
  return {
    name: 'containerd',
    run: (runtime, script, extra = []) =>
      ctr([
        'run', '--rm', '--snapshotter', 'native', '--runc-binary', runtime, ...extra,
        IMAGE, `cordon-test-${process.pid}-${n++}`, 'sh', '-c', script,
      ]), // prettier-ignore
    cli: (args) => ctr(args),
    stop: daemon.stop,
  }
}
