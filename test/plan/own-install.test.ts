// A writable bind that holds cordon's own installation (a project-local `npm install`, then
// `--rw .`) lets the program change the cordon that runs next, outside any sandbox: the run says
// so before anything runs (plan/own-install.ts), in every mode.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { packageRoot } from '../../src/host/launcher.js'
import { tracedOwnInstall, warnOwnInstall } from '../../src/plan/own-install.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { cordon, projectDir } from '../helpers.js'

const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }

/** A project with cordon installed in it, as npm installs it: node_modules/cordon. */
function projectWithInstall(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-own-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const install = join(dir, 'node_modules', 'cordon')
  mkdirSync(install, { recursive: true })
  mkdirSync(join(dir, 'src'))
  return { dir, install }
}

const resolved = (filesystem: unknown[], cwd: string, mount = true) =>
  resolvePolicy(
    {
      policy: { extends: ['minimal'], filesystem, ...(mount ? {} : { namespaces: { mount: false } }) },
      baseDir: cwd,
      label: 't',
    } as Parameters<typeof resolvePolicy>[0],
    cwd,
  )

const ownWarnings = (w: readonly string[] | undefined) =>
  (w ?? []).filter((m) => /cordon's own installation|the link you ran cordon by/.test(m))

describe("a writable bind holding cordon's own installation", () => {
  test('is said, for the project bound writable, with or without a mount namespace', (t) => {
    const p = projectWithInstall(t)
    for (const mount of [true, false]) {
      const warned = ownWarnings(warnOwnInstall(resolved([{ rw: p.dir }], p.dir, mount), p.install).warnings)
      assert.equal(warned.length, 1, `mount namespace ${mount}`)
      assert.match(warned[0]!, new RegExp(`bind of ${p.dir} holds cordon's own installation ${p.install}`))
      assert.match(warned[0]!, /`npm link` in a cordon clone/)
    }
  })

  test('is not said for a read-only bind, one beside it, or one replaced by another entry', (t) => {
    const p = projectWithInstall(t)
    assert.deepEqual(ownWarnings(warnOwnInstall(resolved([{ ro: p.dir }], p.dir), p.install).warnings), [])
    assert.deepEqual(
      ownWarnings(warnOwnInstall(resolved([{ rw: join(p.dir, 'src') }], p.dir), p.install).warnings),
      [],
    )
    const shadowed = resolved([{ rw: p.dir }, { tmpfs: join(p.dir, 'node_modules') }], p.dir)
    assert.deepEqual(ownWarnings(warnOwnInstall(shadowed, p.install).warnings), [])
    // A directory within the installation bound writable (its build/, the launcher's): said too.
    const build = join(p.install, 'build')
    mkdirSync(build)
    const inside = ownWarnings(warnOwnInstall(resolved([{ rw: build }], p.dir), p.install).warnings)
    assert.equal(inside.length, 1)
    assert.match(inside[0]!, new RegExp(`bind of ${build} lies in cordon's own installation ${p.install}`))
    // The installation itself bound writable (developing cordon with `--rw .`): said too.
    assert.equal(
      ownWarnings(warnOwnInstall(resolved([{ rw: p.install }], p.dir), p.install).warnings).length,
      1,
    )
  })

  test("is said for the link cordon was started by (npm's node_modules/.bin/cordon), not for its own path", (t) => {
    const p = projectWithInstall(t)
    const bin = join(p.install, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'cordon.cjs'), '')
    // The installation elsewhere (npm install /path/to/clone links it), the link in the project.
    const elsewhere = projectWithInstall(t)
    mkdirSync(join(elsewhere.install, 'bin'))
    writeFileSync(join(elsewhere.install, 'bin', 'cordon.cjs'), '')
    mkdirSync(join(p.dir, 'node_modules', '.bin'))
    const link = join(p.dir, 'node_modules', '.bin', 'cordon')
    symlinkSync(join(elsewhere.install, 'bin', 'cordon.cjs'), link)
    const policy = resolved([{ rw: p.dir }], p.dir)
    const warned = ownWarnings(warnOwnInstall(policy, elsewhere.install, undefined, link).warnings)
    assert.equal(warned.length, 1)
    assert.match(warned[0]!, new RegExp(`holds ${link}, the link you ran cordon by`))
    // Started by its own path, or the program is someone's own (the library): nothing to say.
    const direct = join(elsewhere.install, 'bin', 'cordon.cjs')
    assert.deepEqual(ownWarnings(warnOwnInstall(policy, elsewhere.install, undefined, direct).warnings), [])
    assert.deepEqual(
      ownWarnings(warnOwnInstall(policy, elsewhere.install, undefined, join(p.dir, 'app.js')).warnings),
      [],
    )
  })

  test('cordon run says it before the command runs, and the command still runs', () => {
    // This checkout is the installation the CLI runs from: a writable bind of its parent holds it.
    const r = cordon(['run', '--rw', dirname(packageRoot), '--', 'true'], { cwd: projectDir() })
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /warning: policy: the writable bind of .* holds cordon's own installation/)
    const plain = cordon(['run', '--', 'true'], { cwd: projectDir() })
    assert.doesNotMatch(plain.stderr, /own installation/)
  })

  test('cordon run started by a link in a writable project says so', (t) => {
    const p = projectWithInstall(t)
    chmodSync(p.dir, 0o755)
    mkdirSync(join(p.dir, 'node_modules', '.bin'))
    const link = join(p.dir, 'node_modules', '.bin', 'cordon')
    symlinkSync(join(packageRoot, 'bin', 'cordon.cjs'), link)
    for (const round of [1, 2]) {
      const r = spawnSync(link, ['run', '--rw', p.dir, '--', 'true'], { cwd: p.dir, env, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, new RegExp(`holds ${link}, the link you ran cordon by`), `run ${round}`)
    }
    const direct = cordon(['run', '--rw', p.dir, '--', 'true'], { cwd: p.dir })
    assert.doesNotMatch(direct.stderr, /the link you ran cordon by/)
  })
})

// Learn and audit show the host's files writable by the sandbox's own ids (learn.ts traceView):
// a plain user's own installation is among them, and nothing said so (helper-135).
describe("cordon's own installation in the traced view", () => {
  test("said where the sandbox's ids may write it; never under host root's read-only view", (t) => {
    const { install } = projectWithInstall(t)
    const uid = process.getuid?.() ?? 0
    const other = uid + 12345
    chmodSync(install, 0o755)
    if (uid !== 0)
      assert.match(tracedOwnInstall(false, install, uid) ?? '', /cordon's own installation .* among them/)
    assert.equal(tracedOwnInstall(false, install, 0), undefined, "root's id range cannot write root's files")
    assert.equal(tracedOwnInstall(false, install, other), undefined, "another's, mode 0755")
    chmodSync(install, 0o775)
    const gid = process.getgid?.() ?? 0
    assert.match(
      tracedOwnInstall(false, install, other, [gid]) ?? '',
      /learn on a trusted input/,
      'its group',
    )
    chmodSync(install, 0o777)
    assert.match(tracedOwnInstall(false, install, other) ?? '', /learn on a trusted input/, 'anyone')
    assert.match(tracedOwnInstall(false, install, 0) ?? '', /learn on a trusted input/, 'root: anyone may')
    assert.equal(tracedOwnInstall(true, install, 0), undefined, 'host root: the view is read-only')
  })
})
