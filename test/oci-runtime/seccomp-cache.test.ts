// cordon-oci keeps compiled linux.seccomp filters in its state root (ROOT/seccomp@cache,
// src/oci-runtime/seccomp-cache.ts): a second create with the same profile takes the filter
// from there, byte for byte what the compiler gives; another profile misses; and an entry that
// is not the runtime's own (another owner, writable by others, a symlink, a hard link, in a
// directory others may write) or holds other input is never used.
import assert from 'node:assert/strict'
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'
import { compileOciFilter } from '../../src/oci-runtime/seccomp-compile.js'
import type { OciSeccomp } from '../../src/oci-runtime/spec.js'
import { type Bundle, makeBundle, oci, ociSkip } from './bundle.js'

const BUNDLED = existsSync(join(ROOT, 'build', 'src', 'oci-bundle', 'oci.cjs'))
const MAGIC = Buffer.from('cordon-oci seccomp filter 1\n')

const PROFILE: OciSeccomp = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['ptrace'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
}
const OTHER: OciSeccomp = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['ptrace', 'personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
}
/** A program no compile makes: RET 0x0badf00d twice. */
const BOGUS = Buffer.from([6, 0, 0, 0, 0x0d, 0xf0, 0xad, 0x0b, 6, 0, 0, 0, 0x0d, 0xf0, 0xad, 0x0b])

const cacheDir = (b: Bundle) => join(b.root, 'seccomp@cache')
const entries = (b: Bundle) => readdirSync(cacheDir(b)).filter((f) => f.endsWith('.bpf'))
const plan = (b: Bundle, id: string) => readFileSync(join(b.root, id, 'plan.bin'))

/** An entry's parts: everything before the program, and the program. */
function split(entry: Buffer): { head: Buffer; program: Buffer } {
  let at = MAGIC.length
  at += 4 + entry.readUInt32LE(at)
  at += 4 + entry.readUInt32LE(at)
  return { head: entry.subarray(0, at), program: entry.subarray(at) }
}

function create(b: Bundle, id: string): void {
  const r = oci(b, ['create', '--bundle', b.dir, id])
  assert.equal(r.status, 0, r.stderr)
}

/** A bundle with PROFILE, one create made (the entry stored); returns the entry's path and the
 * compiled program. */
function seeded(t: { after(f: () => void): void }, profile = PROFILE) {
  const b = makeBundle(['true'])
  t.after(() => b.cleanup())
  b.write((c) => (c.linux!.seccomp = profile))
  create(b, 'seed')
  const [name] = entries(b)
  assert.ok(name, 'the first create stored an entry')
  const path = join(cacheDir(b), name)
  return { b, path, program: split(readFileSync(path)).program }
}

const skip =
  ociSkip() || (!BUNDLED && 'the cache is the bundle’s (no build id unbundled): npm run build with esbuild')

describe('cordon-oci create: the seccomp filter cache', { skip }, () => {
  test('a second create takes the filter from the cache, the bytes a fresh compile gives', (t) => {
    const { b, path, program } = seeded(t)
    const caps = b.config.process!.capabilities!.bounding!
    assert.deepEqual(program, Buffer.from(compileOciFilter(PROFILE, caps).program))
    assert.ok(plan(b, 'seed').includes(program))
    const before = statSync(path)
    create(b, 'again')
    assert.ok(plan(b, 'again').includes(program))
    const after = statSync(path)
    assert.equal(after.ino, before.ino, 'a hit rewrites nothing')
    assert.equal(after.mtimeMs, before.mtimeMs)
    assert.equal(entries(b).length, 1)
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.equal(statSync(cacheDir(b)).mode & 0o777, 0o700)
  })

  // Podman's own profile (containers/common), as config.json's linux.seccomp: archMap becomes
  // architectures; its syscalls keep includes/excludes (caps, arches, minKernel), which the
  // compile resolves, so a hit must hold exactly what those inputs gave.
  const PODMAN = '/usr/share/containers/seccomp.json'
  test(
    "Podman's real profile: a hit is byte for byte a fresh compile",
    { skip: !existsSync(PODMAN) && `no ${PODMAN} (containers-common)` },
    (t) => {
      const raw = JSON.parse(readFileSync(PODMAN, 'utf8')) as {
        defaultAction: string
        defaultErrnoRet?: number
        archMap?: { architecture: string; subArchitectures?: string[] }[]
        syscalls: OciSeccomp['syscalls']
      }
      const profile = {
        defaultAction: raw.defaultAction,
        ...(raw.defaultErrnoRet !== undefined ? { defaultErrnoRet: raw.defaultErrnoRet } : {}),
        architectures: (raw.archMap ?? []).flatMap((a) => [a.architecture, ...(a.subArchitectures ?? [])]),
        syscalls: raw.syscalls,
      } as OciSeccomp
      const { b, path, program } = seeded(t, profile)
      const caps = b.config.process!.capabilities!.bounding!
      assert.deepEqual(program, Buffer.from(compileOciFilter(profile, caps).program))
      create(b, 'again')
      assert.ok(plan(b, 'again').includes(program), 'the hit is the fresh compile')
      assert.equal(entries(b).length, 1, readdirSync(cacheDir(b)).join(' '))
      assert.ok(statSync(path).size > program.length)
    },
  )

  test('another profile misses and gets its own entry', (t) => {
    const { b, program } = seeded(t)
    b.write((c) => (c.linux!.seccomp = OTHER))
    create(b, 'other')
    const caps = b.config.process!.capabilities!.bounding!
    const other = Buffer.from(compileOciFilter(OTHER, caps).program)
    assert.notDeepEqual(other, program)
    assert.ok(plan(b, 'other').includes(other))
    assert.equal(entries(b).length, 2)
  })

  test('other bounding capabilities (the profile’s includes.caps) miss', (t) => {
    const { b } = seeded(t)
    b.write((c) => {
      c.linux!.seccomp = PROFILE
      c.process!.capabilities!.bounding = ['CAP_KILL']
    })
    create(b, 'caps')
    assert.equal(entries(b).length, 2)
  })

  // The control for the cases below: a planted entry that is the runtime's own and holds the
  // same input is used (so the lookup reaches it); each case then differs in one way.
  const cases: { name: string; used: boolean; plant(b: Bundle, path: string): void }[] = [
    { name: 'ours, 0600, same input (the control)', used: true, plant: () => {} },
    { name: 'owned by another user', used: false, plant: (_b, p) => chownSync(p, 65534, 65534) },
    { name: 'group-writable', used: false, plant: (_b, p) => chmodSync(p, 0o620) },
    { name: 'world-writable', used: false, plant: (_b, p) => chmodSync(p, 0o602) },
    {
      name: 'a symlink to a file of ours',
      used: false,
      plant: (b, p) => {
        renameSync(p, join(b.root, 'elsewhere.bpf'))
        symlinkSync(join(b.root, 'elsewhere.bpf'), p)
      },
    },
    { name: 'a hard link', used: false, plant: (b, p) => linkSync(p, join(b.root, 'second-name.bpf')) },
    {
      name: 'in a group-writable cache directory',
      used: false,
      plant: (b) => chmodSync(cacheDir(b), 0o770),
    },
    {
      name: 'holding other input (one byte of the profile changed)',
      used: false,
      plant: (_b, p) => {
        const data = readFileSync(p)
        const at = data.indexOf('SCMP_ACT_ERRNO')
        data[at + 5] = 'X'.charCodeAt(0)
        writeFileSync(p, data)
      },
    },
  ]
  for (const c of cases)
    test(`an entry ${c.name} is ${c.used ? '' : 'not '}used`, (t) => {
      const { b, path, program } = seeded(t)
      writeFileSync(path, Buffer.concat([split(readFileSync(path)).head, BOGUS]))
      c.plant(b, path)
      create(b, 'planted')
      assert.equal(plan(b, 'planted').includes(BOGUS), c.used)
      assert.equal(plan(b, 'planted').includes(program), !c.used)
    })
})
