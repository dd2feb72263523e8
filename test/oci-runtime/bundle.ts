// A minimal OCI bundle for the tests: a static busybox rootfs and runc's default config.json.
import { spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../helpers.js'
import type { OciConfig } from '../../src/oci-runtime/spec.js'

export const CORDON_OCI = join(ROOT, 'bin', 'cordon-oci')
export const RUNC = '/usr/sbin/runc'
export const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => {
  if (!existsSync(p)) return false
  return /statically linked/.test(spawnSync('file', ['-L', p], { encoding: 'utf8' }).stdout ?? '')
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

export function oci(b: Bundle, args: string[], runtime = CORDON_OCI, root = b.root): Result {
  const r = spawnSync(runtime, ['--root', root, ...args], {
    cwd: b.dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}
