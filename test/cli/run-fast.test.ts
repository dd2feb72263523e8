// `cordon run`'s lean path (src/cli/run-fast.ts): a command line an earlier run compiled starts
// from the plan that run filed (src/run/plan-cache.ts), and says and does what the run command
// does; anything it is not sure of runs the run command instead.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fastRunArgs, filingAllowed } from '../../src/cli/run-fast-args.js'
import { bindRun } from '../../src/plan/bind-run.js'
import { compilePlan } from '../../src/plan/compile.js'
import { encodePlan, insertOpsAfterFirst } from '../../src/plan/encode.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { validatePolicy } from '../../src/policy/parse.js'
import { inPrivateMounts, isRoot, ROOT } from '../helpers.js'

const BUNDLE = join(ROOT, 'build', 'src', 'cli-bundle', 'run-fast.cjs')
const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }

describe('the command lines the lean path serves', () => {
  test('[-q] [--profile default|minimal] [--] COMMAND, nothing else', () => {
    assert.deepEqual(fastRunArgs(['--', 'ls', '-l']), {
      profile: 'default',
      quiet: false,
      command: ['ls', '-l'],
    })
    assert.deepEqual(fastRunArgs(['ls', '-l']), { profile: 'default', quiet: false, command: ['ls', '-l'] })
    assert.deepEqual(fastRunArgs(['-q', '--profile', 'minimal', '--', 'x']), {
      profile: 'minimal',
      quiet: true,
      command: ['x'],
    })
    assert.deepEqual(fastRunArgs(['--profile=default', 'x'])?.profile, 'default')
    for (const refused of [
      [],
      ['--'],
      ['-q'],
      ['--rw', '.', '--', 'x'],
      ['--profile', 'nope', 'x'],
      ['-q', '-q', 'x'],
      ['--json', 'x'],
      ['-p', 'policy.yaml'],
      ['--help'],
      // splitCommand splits at the first `--` anywhere: `echo` is a flag to the run command
      // there, which refuses the line, so the lean path must not run it either.
      ['-q', 'echo', 'a', '--rw', '/', '--', 'b'],
      ['echo', '--'],
    ])
      assert.equal(fastRunArgs(refused), undefined, JSON.stringify(refused))
    assert.deepEqual(fastRunArgs(['-q', '--', 'echo', '--', 'b'])?.command, ['echo', '--', 'b'])
  })
})

describe('a plan kept encoded gets its cgroups where bindRun puts them', () => {
  test('the same bytes as encoding the bound plan', () => {
    const policy = resolvePolicy(
      { policy: validatePolicy({ extends: ['default'] }), baseDir: '/', label: 'test' },
      '/',
    )
    const plan = compilePlan(policy, { uid: 1000, gid: 1000, cwd: '/', arch: process.arch, idRanges: null })
    const cgroups = ['/sys/fs/cgroup/a/b', '/sys/fs/cgroup/memory/c']
    const bound = encodePlan(bindRun(plan, { cgroups }))
    const spliced = insertOpsAfterFirst(
      encodePlan(plan),
      cgroups.map((path) => ({ op: 'cgroup' as const, path })),
    )
    assert.ok(bound.equals(spliced))
    assert.ok(insertOpsAfterFirst(encodePlan(plan), []).equals(encodePlan(plan)))
  })
})

/** A project directory, and runs of the CLI there (the bundle as built, or a copy's). */
function project(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-fast-'))
  chmodSync(dir, 0o755)
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const run = (args: string[], bin = join(ROOT, 'bin', 'cordon.cjs')) =>
    spawnSync(process.execPath, [bin, 'run', ...args], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    })
  return { dir, run }
}

/** The plans directory of this caller's state (run/state-dir.ts). */
const plansDir = () => {
  const uid = process.getuid?.() ?? 0
  const base =
    uid === 0
      ? '/run/cordon'
      : process.env.XDG_RUNTIME_DIR
        ? join(process.env.XDG_RUNTIME_DIR, 'cordon')
        : `/tmp/cordon-${uid}/cordon`
  return join(base, 'plans')
}
/** The entries filed for runs in dir (the key names the working directory third). Another test
 * file's run may prune an old entry (run/plan-cache.ts prune) between the listing and the read:
 * one gone by then is not this project's (a fresh clone's CI saw ENOENT here once). */
const entriesFor = (dir: string) =>
  existsSync(plansDir())
    ? readdirSync(plansDir()).filter((n) => {
        if (!n.endsWith('.json')) return false
        let text: string
        try {
          text = readFileSync(join(plansDir(), n), 'utf8')
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false
          throw e
        }
        const { key } = JSON.parse(text) as { key: string }
        return (JSON.parse(key) as unknown[])[2] === dir
      })
    : []

/** The entry the project's first run of `true` filed (the run command compiles, then files it). */
function filedEntry(p: ReturnType<typeof project>): string {
  assert.equal(p.run(['--', 'true']).status, 0)
  const [name] = entriesFor(p.dir)
  assert.ok(name, 'the first run filed its plan')
  return join(plansDir(), name)
}

describe(
  'cordon run from a filed plan',
  {
    skip:
      (!existsSync(BUNDLE) && 'the bundles are not built (no esbuild)') ||
      (!isRoot && 'plans are filed for root only (run-fast-args.ts filingAllowed)'),
  },
  () => {
    test('says and does what the run command does: output, status, warnings, errors', (t) => {
      const p = project(t)
      const cases: string[][] = [
        ['--', 'sh', '-c', 'echo out; echo err >&2; exit 3'],
        ['--', '/no/such/program'],
        ['-q', '--', 'sh', '-c', 'kill -TERM $$'],
        ['--profile', 'minimal', '--', '/bin/true'],
      ]
      for (const args of cases) {
        const first = p.run(args) // compiles, and files the plan
        const again = p.run(args) // from the plan
        assert.equal(again.status, first.status, JSON.stringify(args))
        assert.equal(again.stdout, first.stdout, JSON.stringify(args))
        // cordon's lines and the program's share stderr, in whatever order they come.
        const lines = (text: string) => text.split('\n').sort()
        assert.deepEqual(lines(again.stderr), lines(first.stderr), JSON.stringify(args))
      }
      assert.equal(entriesFor(p.dir).length, 2) // one per profile
    })

    test('runs without the run command once filed: the lean path alone', (t) => {
      const p = project(t)
      const copy = mkdtempSync(join(tmpdir(), 'cordon-fast-pkg-'))
      t.after(() => rmSync(copy, { recursive: true, force: true }))
      mkdirSync(join(copy, 'bin'))
      for (const f of ['cordon.cjs', 'code-cache.cjs'])
        copyFileSync(join(ROOT, 'bin', f), join(copy, 'bin', f))
      for (const dir of ['native', 'seccomp'])
        // the launcher, the precompiled filters
        cpSync(join(ROOT, 'build', dir), join(copy, 'build', dir), { recursive: true })
      cpSync(join(ROOT, 'build', 'src', 'cli-bundle'), join(copy, 'build', 'src', 'cli-bundle'), {
        recursive: true,
      })
      const bin = join(copy, 'bin', 'cordon.cjs')
      assert.equal(p.run(['--', 'sh', '-c', 'echo one'], bin).stdout, 'one\n')
      // The run command gone, both its bundles.
      rmSync(join(copy, 'build', 'src', 'cli-bundle', 'run.cjs'))
      rmSync(join(copy, 'build', 'src', 'cli-bundle', 'main.js'))
      const r = p.run(['--', 'sh', '-c', 'echo two; exit 4'], bin)
      assert.equal(r.status, 4, r.stderr)
      assert.equal(r.stdout, 'two\n')
      // Another directory is another key: the run command, gone here, would have to compile.
      const other = project(t)
      const miss = other.run(['--', 'true'], bin)
      assert.equal(miss.status, 125)
      assert.match(miss.stderr, /cannot load the CLI/)
    })

    test('a line the run command refuses is refused with a plan filed: a command word before `--`', (t) => {
      const p = project(t)
      filedEntry(p)
      const r = p.run(['-q', 'echo', 'a', '--', 'b'])
      assert.equal(r.status, 125, r.stderr)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /echo/)
    })

    test('installed under a path a URL would encode, the lean path loads its own run command', (t) => {
      const p = project(t)
      const top = mkdtempSync(join(tmpdir(), 'cordon-fast-url-'))
      t.after(() => rmSync(top, { recursive: true, force: true }))
      chmodSync(top, 0o755)
      const copy = join(top, 'pkg dir')
      mkdirSync(join(copy, 'bin'), { recursive: true })
      for (const f of ['cordon.cjs', 'code-cache.cjs'])
        copyFileSync(join(ROOT, 'bin', f), join(copy, 'bin', f))
      for (const dir of ['native', 'seccomp', join('src', 'cli-bundle')])
        cpSync(join(ROOT, 'build', dir), join(copy, 'build', dir), { recursive: true })
      // The percent-encoded twin of the install, as another user could make it.
      const twin = join(top, 'pkg%20dir', 'build', 'src', 'cli-bundle')
      mkdirSync(twin, { recursive: true })
      const marker = join(top, 'twin-ran')
      writeFileSync(
        join(twin, 'run.cjs'),
        `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')\nmodule.exports = { notFoundFor: () => 'planted', statusFor: () => [] }\n`,
      )
      const bin = join(copy, 'bin', 'cordon.cjs')
      assert.equal(p.run(['--', 'true'], bin).status, 0) // compiles, files the plan
      // From it: a command not found asks the run command for its hint.
      const r = p.run(['--', 'no-such-program-cordon'], bin)
      assert.equal(r.status, 127, r.stderr)
      assert.match(
        r.stderr,
        /exec no-such-program-cordon failed: no-such-program-cordon is not on this host either/,
      )
      assert.equal(existsSync(marker), false, 'the twin was never loaded')
    })

    test('a plan whose host reads answer otherwise now is compiled afresh and filed again', (t) => {
      const p = project(t)
      const file = filedEntry(p)
      const before = readFileSync(file, 'utf8')
      chmodSync(p.dir, 0o750) // the view's bind of the project reads its mode
      const r = p.run(['--', 'true'])
      assert.equal(r.status === 0 || r.status === 125, true, r.stderr)
      const after = readFileSync(file, 'utf8')
      if (r.status === 0) assert.notEqual(after, before)
      chmodSync(p.dir, 0o755)
    })

    test('an entry filed for another login name is stale: the command runs once, from a fresh compile', (t) => {
      const p = project(t)
      const file = filedEntry(p)
      const entry = JSON.parse(readFileSync(file, 'utf8')) as { login: string | null }
      const login = entry.login
      // As if the caller's passwd entry had been renamed since (usermod -l): USER in the plan is old.
      writeFileSync(file, JSON.stringify({ ...entry, login: 'renamed-since' }), { mode: 0o600 })
      const r = p.run(['--', 'sh', '-c', 'echo "ran as $USER"'])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, `ran as ${login ?? ''}\n`, 'once, with the login the host gives now')
      assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { login: string | null }).login, login)
    })

    test("an entry that is not the caller's own and private is not used, and is replaced", (t) => {
      const p = project(t)
      const file = filedEntry(p)
      chmodSync(file, 0o644)
      const ino = statSync(file).ino
      assert.equal(p.run(['--', 'true']).status, 0)
      const st = statSync(file)
      assert.equal(st.mode & 0o777, 0o600)
      assert.notEqual(st.ino, ino) // written anew by the run command
    })

    test('a command line that is not UTF-8 keeps its bytes from a filed plan', (t) => {
      const p = project(t)
      assert.equal(p.run(['--', 'true']).status, 0) // files the plan
      // The argument's bytes are made by the shell: a JavaScript string would go out as UTF-8.
      const r = spawnSync(
        'sh',
        [
          '-c',
          `exec "$0" "$1" run -- printf %s "$(printf 'a\\377b')"`,
          process.execPath,
          join(ROOT, 'bin', 'cordon.cjs'),
        ],
        { cwd: p.dir, env, timeout: 60_000 },
      )
      assert.equal(r.status, 0, String(r.stderr))
      assert.deepEqual([...r.stdout], [0x61, 0xff, 0x62])
    })

    test('an entry cut short or of another shape is a miss: the command runs once, nothing hangs', (t) => {
      const p = project(t)
      const file = filedEntry(p)
      const good = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
      const edits: Record<string, unknown>[] = [
        { plan: 'AAAA' },
        { plan: String(good.plan).slice(0, 400) },
        { limits: null },
        { notes: null },
        { status: null },
        { warnings: 5 },
      ]
      for (const edit of edits) {
        writeFileSync(file, JSON.stringify({ ...good, ...edit }), { mode: 0o600 })
        chmodSync(file, 0o600)
        const r = p.run(['--', 'sh', '-c', 'echo ran'])
        assert.equal(r.status, 0, `${JSON.stringify(edit)}: ${r.stderr}`)
        assert.equal(r.stdout, 'ran\n', JSON.stringify(edit))
      }
    })

    // helper-114: on a full state directory the entry was cut short in place (a miss ever after)
    // and every run left a temp file of its own, which nothing removed.
    test(
      'a full state directory keeps no entry cut short and no temp file',
      { skip: !isRoot && 'needs root to mount a small tmpfs over /run/cordon' },
      (t) => {
        const p = project(t)
        const script =
          'mount -t tmpfs -o size=8k,mode=700 tmpfs /run/cordon && ' +
          `for i in 1 2 3; do "$0" "$1" run -q -- sh -c 'echo ran'; done; ls -A /run/cordon/plans`
        const r = inPrivateMounts(script, [process.execPath, join(ROOT, 'bin', 'cordon.cjs')], p.dir)
        assert.equal(r.stdout, 'ran\nran\nran\n', r.stderr)
      },
    )

    test("plans are filed for root only: a plain user's sandbox could write one", () => {
      assert.equal(filingAllowed(0), true)
      assert.equal(filingAllowed(1000), false)
    })

    test(
      'the filed plans are out of every sandbox’s sight',
      { skip: !isRoot && 'root: a wide bind of /run' },
      (t) => {
        const p = project(t)
        assert.equal(p.run(['--', 'true']).status, 0)
        const r = p.run(['--ro', '/run', '--', 'sh', '-c', 'for f in /run/cordon/*; do echo "$f"; done'])
        assert.equal(r.status, 0, r.stderr)
        assert.equal(r.stdout, '/run/cordon/*\n')
      },
    )
  },
)
