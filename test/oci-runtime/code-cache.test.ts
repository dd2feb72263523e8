// cordon-oci's Node half (bin/cordon-oci.cjs): one CommonJS bundle compiled with the V8 code
// cache `npm run build` wrote for it. The cache must serve this Node, be used only for the exact
// bytes it was made from, and be read only from the package's own build directory.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'
import { CORDON_OCI } from './bundle.js'

const LOADER = join(ROOT, 'bin', 'cordon-oci.cjs')
const BUNDLE = join(ROOT, 'build', 'src', 'oci-bundle', 'oci.cjs')
const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => existsSync(p))
const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }

interface Loader {
  BUNDLE: string
  load(file: string): { exports: { main: unknown }; cache: string }
  writeCodeCache(file: string): Promise<{ warm: true | string }>
}
const loader = () => createRequire(import.meta.url)(LOADER) as Loader

/** Every cgroup hierarchy's mount point (v1 and v2), from /proc/self/mountinfo. */
const cgroupMounts = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]!)

/** A copy of the package's loader and bundle (with its cache) in a scratch tree, laid out as
 * the package is; edit() changes the copied bundle. */
function packageCopy(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-cache-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'bin'))
  mkdirSync(join(dir, 'build', 'src', 'oci-bundle'), { recursive: true })
  copyFileSync(LOADER, join(dir, 'bin', 'cordon-oci.cjs'))
  copyFileSync(join(ROOT, 'bin', 'code-cache.cjs'), join(dir, 'bin', 'code-cache.cjs'))
  const bundle = join(dir, 'build', 'src', 'oci-bundle', 'oci.cjs')
  copyFileSync(BUNDLE, bundle)
  copyFileSync(`${BUNDLE}.cache`, `${bundle}.cache`)
  return {
    dir,
    bundle,
    edit: (from: string, to: string) => {
      const text = readFileSync(bundle, 'utf8')
      assert.ok(text.includes(from), `the bundle holds ${from}`)
      writeFileSync(bundle, text.replace(from, to))
      // Edited after the build, as a person edits it: seconds after its cache was written (the
      // loader takes a bundle changed since its cache as stale, bin/code-cache.cjs).
      const later = new Date(statSync(`${bundle}.cache`).mtimeMs + 2000)
      utimesSync(bundle, later, later)
    },
    run: (args: string[], cwd = dir) =>
      spawnSync(process.execPath, [join(dir, 'bin', 'cordon-oci.cjs'), ...args], {
        cwd,
        env,
        encoding: 'utf8',
      }),
  }
}

describe(
  "cordon-oci's code cache",
  { skip: !existsSync(BUNDLE) && 'the bundle is not built (no esbuild)' },
  () => {
    test('the cache npm run build wrote is accepted by this Node (cachedDataRejected false)', () => {
      const l = loader()
      assert.equal(l.BUNDLE, BUNDLE)
      const r = l.load(BUNDLE)
      assert.equal(r.cache, 'used')
      assert.equal(typeof r.exports.main, 'function')
    })

    test("the build's warm-up runs create's code, and makes no cgroup and leaves no file", async (t) => {
      const p = packageCopy(t)
      const scratch = () => readdirSync(tmpdir()).filter((f) => f.startsWith('cordon-oci-warm-up-'))
      const before = scratch()
      const topLevelOnly = readFileSync(`${p.bundle}.cache`).length
      const { warm } = await loader().writeCodeCache(p.bundle)
      // As a plain user the sample container (no user namespace) is refused part-way.
      if (process.geteuid?.() === 0) assert.equal(warm, true)
      assert.deepEqual(scratch(), before)
      // It runs create's cgroup code on a scratch copy of the hierarchies: none is touched.
      for (const mount of cgroupMounts())
        assert.equal(existsSync(join(mount, 'cordon-oci', 'warm-up')), false)
      assert.equal(existsSync('/sys/fs/cgroup/cordon-oci/warm-up'), false)
      assert.equal(existsSync('/sys/fs/cgroup/memory/cordon-oci/warm-up'), false)
      assert.equal(loader().load(p.bundle).cache, 'used')
      assert.ok(topLevelOnly > 0)
    })

    test('a cache made for other bytes of the same length is not used: the new bytes run', (t) => {
      const p = packageCopy(t)
      // V8 checks a cache against the source's length only: an edit that keeps the length would
      // run the old top level's bytecode (its constants) if the loader did not compare the bytes.
      p.edit('Usage: cordon-oci', 'Usagf: cordon-oci')
      const r = p.run(['--help'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^Usagf: cordon-oci/)
      assert.equal(r.stderr, '')
      assert.equal(loader().load(p.bundle).cache, 'stale')
    })

    test('a cache V8 refuses (another Node, other flags) is dropped silently', (t) => {
      const p = packageCopy(t)
      const data = readFileSync(`${p.bundle}.cache`)
      const { dataOffset } = createRequire(import.meta.url)(join(ROOT, 'bin', 'code-cache.cjs')) as {
        dataOffset: (length: number) => number
      }
      const v8 = dataOffset(readFileSync(p.bundle).length)
      data.fill(0x5a, v8 + 4, v8 + 16) // V8's header: version and flag hashes
      writeFileSync(`${p.bundle}.cache`, data)
      assert.equal(loader().load(p.bundle).cache, 'rejected')
      const r = p.run(['--version'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^cordon-oci version /)
      assert.equal(r.stderr, '')
    })

    test('without a cache or a CommonJS bundle the runtime still runs', (t) => {
      const p = packageCopy(t)
      rmSync(`${p.bundle}.cache`)
      assert.equal(loader().load(p.bundle).cache, 'absent')
      const r = p.run(['--version'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^cordon-oci version /)
      // No bundle at all: the ES modules of bin/cordon-oci.js (a checkout built without esbuild).
      const q = packageCopy(t)
      rmSync(q.bundle)
      const esm = join(q.dir, 'bin', 'cordon-oci.js')
      writeFileSync(esm, "process.stdout.write('esm fallback\\n')\n")
      writeFileSync(join(q.dir, 'package.json'), '{"type":"module"}\n')
      const s = q.run(['--version'])
      assert.equal(s.status, 0, s.stderr)
      assert.equal(s.stdout, 'esm fallback\n')
    })

    test('the bundle and its cache are never read from the working directory', (t) => {
      const p = packageCopy(t)
      const cwd = mkdtempSync(join(tmpdir(), 'cordon-oci-cwd-'))
      t.after(() => rmSync(cwd, { recursive: true, force: true }))
      const planted = join(cwd, 'build', 'src', 'oci-bundle')
      mkdirSync(planted, { recursive: true })
      writeFileSync(join(planted, 'oci.cjs'), "process.stdout.write('planted\\n'); process.exit(7)\n")
      writeFileSync(join(planted, 'oci.cjs.cache'), 'junk')
      mkdirSync(join(cwd, 'bin'))
      writeFileSync(
        join(cwd, 'bin', 'cordon-oci.cjs'),
        "process.stdout.write('planted\\n'); process.exit(7)\n",
      )
      const r = p.run(['--version'], cwd)
      assert.equal(r.status, 0, r.stderr)
      assert.doesNotMatch(r.stdout, /planted/)
      // The C entry point too: it runs the package's loader, by its own path.
      const c = spawnSync(CORDON_OCI, ['--version'], { cwd, env, encoding: 'utf8' })
      assert.equal(c.status, 0, c.stderr)
      assert.doesNotMatch(c.stdout, /planted/)
    })

    test(
      'the C entry point runs the loader with one V8 worker thread',
      { skip: !STRACE && 'no strace' },
      (t) => {
        const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-exec-'))
        t.after(() => rmSync(dir, { recursive: true, force: true }))
        const out = join(dir, 'trace')
        const r = spawnSync(
          STRACE!,
          ['-f', '-qq', '-s', '256', '-e', 'trace=execve', '-o', out, CORDON_OCI, 'features'],
          {
            env,
            encoding: 'utf8',
          },
        )
        assert.equal(r.status, 0, r.stderr)
        const execs = readFileSync(out, 'utf8')
        assert.match(
          execs,
          new RegExp(`execve\\("[^"]*node", \\["node", "--v8-pool-size=1", "${LOADER}", "features"\\]`),
        )
      },
    )
  },
)
