// A minimal OCI bundle for the tests: a static busybox rootfs and runc's default config.json.
import { spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { isRoot, ROOT } from '../helpers.js'
import type { OciConfig } from '../../src/oci-runtime/spec.js'

export const CORDON_OCI = join(ROOT, 'bin', 'cordon-oci')
export const RUNC = '/usr/sbin/runc'
export const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => {
  if (!existsSync(p)) return false
  // ldd (libc's, always there) rather than file(1), which a minimal host lacks: no busybox then.
  const ldd = spawnSync('ldd', [p], { encoding: 'utf8' })
  return /not a dynamic executable|statically linked/.test(`${ldd.stdout}${ldd.stderr}`)
})

export interface Bundle {
  dir: string
  root: string
  config: OciConfig
  write(edit?: (c: OciConfig) => void): void
  cleanup(): void
}

/** A bundle whose config is runc's `runc spec` (terminal off) running args. */
export function makeBundle(args: string[]): Bundle {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-bundle-'))
  const root = mkdtempSync(join(tmpdir(), 'cordon-oci-state-'))
  const rootfs = join(dir, 'rootfs')
  mkdirSync(join(rootfs, 'bin'), { recursive: true })
  for (const d of ['proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(join(rootfs, d))
  copyFileSync(BUSYBOX!, join(rootfs, 'bin', 'busybox'))
  for (const c of ['sh', 'ls', 'id', 'cat', 'echo', 'sleep', 'mknod', 'touch', 'hostname', 'grep'])
    symlinkSync('busybox', join(rootfs, 'bin', c))
  const spec = spawnSync(RUNC, ['spec'], { cwd: dir })
  if (spec.status !== 0) throw new Error(`runc spec: ${spec.stderr}`)
  const base = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as OciConfig
  base.process!.terminal = false
  base.root!.readonly = false
  base.process!.args = args
  // The runtime's default group is /cordon-oci/<id>, and test files running side by side reuse
  // ids (c1, u1…): one file's delete removed another's group. Each bundle's is its own.
  base.linux!.cgroupsPath = `/cordon-oci-test/${basename(dir)}`
  const b: Bundle = {
    dir,
    root,
    config: base,
    write(edit) {
      const c = structuredClone(base)
      edit?.(c)
      writeFileSync(join(dir, 'config.json'), JSON.stringify(c, null, 1))
    },
    cleanup() {
      for (const id of spawnSync(CORDON_OCI, ['--root', root, 'list', '-q'], {
        encoding: 'utf8',
      }).stdout.split('\n'))
        if (id) spawnSync(CORDON_OCI, ['--root', root, 'delete', '--force', id])
      rmSync(dir, { recursive: true, force: true })
      rmSync(root, { recursive: true, force: true })
    },
  }
  b.write()
  return b
}

export interface Result {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs the runtime with its output in files, not pipes: a created container inherits the
 * runtime's stdout and stderr and keeps them open, so a pipe would hold spawnSync until the
 * container ends (or the timeout, a minute, passes). */
export function oci(b: Bundle, args: string[], runtime = CORDON_OCI, root = b.root): Result {
  return spawnOut(runtime, ['--root', root, ...args], { cwd: b.dir })
}

/** cmd args with its output in files (see oci()), `env` added to this process's, and `extra`
 * as fd 3 when given. */
export function spawnOut(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: Record<string, string>; extra?: number } = {},
): Result {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-out-'))
  const out = openSync(join(dir, 'stdout'), 'w+')
  const err = openSync(join(dir, 'stderr'), 'w+')
  try {
    const r = spawnSync(cmd, args, {
      ...(o.cwd ? { cwd: o.cwd } : {}),
      stdio: ['ignore', out, err, ...(o.extra === undefined ? [] : [o.extra])],
      timeout: 60_000,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '', ...o.env },
    })
    const read = (name: string) => readFileSync(join(dir, name), 'utf8')
    return { status: r.status, stdout: read('stdout'), stderr: read('stderr') }
  } finally {
    closeSync(out)
    closeSync(err)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Why a cordon-oci test cannot run on this host, or false: it makes root containers from a
 * static busybox rootfs, with runc for the bundle (and, where named, as the reference). */
export function ociSkip(
  notRoot = 'cordon-oci creates containers as root',
  runcFor = 'the bundle',
): string | false {
  if (!isRoot) return notRoot
  if (!BUSYBOX) return 'needs a static busybox for the rootfs (Debian: busybox-static)'
  if (!existsSync(RUNC)) return `needs runc for ${runcFor}`
  return false
}

/** Polls cond every 10 ms, at most `tries` times (a container's state changes asynchronously). */
export function waitUntil(cond: () => boolean, tries: number): void {
  for (let i = 0; i < tries && !cond(); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
}

/** A shell line for the container that says `ready`, counts its SIGINTs for four seconds, then
 * prints `total N`. */
/** A script for `sh -c` that counts the `trap` signal it gets (a name, or a number for a
 * real-time one) for four seconds after it says `ready`, then says `total N`. */
export function countSignal(trap: string): string {
  return `n=0; trap "n=\\$((n+1))" ${trap}; echo ready; s=0; while [ $s -lt 4 ]; do sleep 1 & wait $!; s=$((s+1)); done; echo total $n`
}

export const COUNT_INTS = countSignal('INT')

/** Starts `cmd args` in a process group of its own, and once the container has said `ready` (and
 * a moment more), sends the whole group `signal` (SIGINT: as a terminal's ^C would): its exit status and
 * what the container wrote. */
export async function interruptWhenReady(
  cmd: string,
  args: string[],
  signal: NodeJS.Signals | number = 'SIGINT',
): Promise<{ code: number | null; out: string }> {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
  })
  let out = ''
  const ready = new Promise<void>((done) =>
    child.stdout.on('data', (d: Buffer) => {
      out += String(d)
      if (out.startsWith('ready\n')) done()
    }),
  )
  const code = new Promise<number | null>((done) => child.on('close', (c) => done(c)))
  await ready
  await new Promise((r) => setTimeout(r, 200))
  process.kill(-child.pid!, signal)
  return { code: await code, out }
}
