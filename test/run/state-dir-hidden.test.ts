// No sandbox sees cordon's state directory (plan/state-mask.ts): the records there hold every
// running sandbox's command line, and its event sockets stream what each does to any process of
// the caller's uid that can reach them. A plain user's sandbox with a wide bind read the others'
// records; a root caller's with host root did too.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { stateLayout } from '../../src/host/state-places.js'
import { stateDirCandidates } from '../../src/plan/state-mask.js'
import { CLI, cordon, hasCommand, isRoot, plainUserScratch, projectDir } from '../helpers.js'

/** `cordon run -- sleep 30` as user in dir: a running sandbox with a record in its state directory. */
const sleeperAs = (user: { uid: number; gid: number }, dir: string, env: NodeJS.ProcessEnv) =>
  spawn(process.execPath, [CLI, 'run', '-q', '--', 'sleep', '30'], {
    cwd: dir,
    uid: user.uid,
    gid: user.gid,
    env,
    stdio: 'ignore',
  })

/** A sandbox that stays while fn runs, its record written; stopped after. */
async function withRunning(
  stateDir: string,
  start: () => ReturnType<typeof spawn>,
  fn: () => void,
): Promise<void> {
  const child = start()
  try {
    for (
      let i = 0;
      i < 200 && !(existsSync(stateDir) && readdirSync(stateDir).some((f) => f.endsWith('.json')));
      i++
    )
      await new Promise((r) => setTimeout(r, 50))
    assert.ok(
      readdirSync(stateDir).some((f) => f.endsWith('.json')),
      'the running sandbox registered',
    )
    fn()
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
  }
}

describe('every place a caller keeps state', () => {
  test('each XDG_RUNTIME_DIR a user runs under, none included, whatever this process has', () => {
    const saved = process.env.XDG_RUNTIME_DIR
    process.env.XDG_RUNTIME_DIR = '/somewhere'
    try {
      // No XDG_RUNTIME_DIR given is none, not this process's (a default parameter read it so,
      // and /tmp/cordon-UID was never made or hidden from a shell's runs).
      assert.deepEqual(stateLayout(1000, undefined).create, ['/tmp/cordon-1000', '/tmp/cordon-1000/cordon'])
      assert.deepEqual(stateDirCandidates(1000, { XDG_RUNTIME_DIR: '/x' }).sort(), [
        '/run/user/1000/cordon',
        '/tmp/cordon-1000',
        '/x/cordon',
      ])
      assert.deepEqual(stateDirCandidates(0, {}), [
        '/run/cordon',
        '/run/runc',
        '/var/run/runsc',
        '/run/runsc',
      ])
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR
      else process.env.XDG_RUNTIME_DIR = saved
    }
  })
})

describe(
  "cordon's state directory is hidden from every sandbox",
  { skip: !isRoot && 'needs root (a plain test user)' },
  () => {
    test('a plain user: wide binds show it empty, a bind of it is refused, Landlock refuses its files', async (t) => {
      const { dir, env, user, as } = plainUserScratch(t, 'state-hidden')
      const state = join(dir, 'rt', 'cordon')
      await withRunning(
        state,
        () => sleeperAs(user, dir, env),
        () => {
          const list = `for f in ${state}/*; do echo "$f"; done`
          const wide = as(['run', '-q', '--ro', '/', '--', 'sh', '-c', list])
          assert.equal(wide.status, 0, wide.stderr)
          assert.equal(wide.stdout, `${state}/*\n`)
          // Shown at another place: hidden there.
          const moved = as([
            'run',
            '-q',
            '--ro',
            `${dir}:/x`,
            '--',
            'sh',
            '-c',
            'for f in /x/rt/cordon/*; do echo "$f"; done',
          ])
          assert.equal(moved.status, 0, moved.stderr)
          assert.equal(moved.stdout, '/x/rt/cordon/*\n')
          const own = as(['run', '-q', '--ro', state, '--', 'true'])
          assert.equal(own.status, 125)
          assert.match(own.stderr, /shows cordon's state directory .*which no sandbox may see/)
          // Without a mount namespace, Landlock's rules are split around it.
          const bare = as([
            'run',
            '-q',
            '--no-namespaces',
            '--acknowledge',
            'no-view',
            '--ro',
            '/',
            '--',
            'sh',
            '-c',
            `cat ${state}/*.json`,
          ])
          assert.notEqual(bare.status, 0)
          assert.match(bare.stderr, /Permission denied/)
          assert.doesNotMatch(bare.stdout, /sleep/)
        },
      )
    })

    test("a plain user's other state directory (no XDG_RUNTIME_DIR: /tmp/cordon-UID) is hidden too", async (t) => {
      const { dir, env, user, as } = plainUserScratch(t, 'state-other')
      const bare: NodeJS.ProcessEnv = { ...env }
      delete bare.XDG_RUNTIME_DIR
      const other = `/tmp/cordon-${user.uid}/cordon`
      await withRunning(
        other,
        () => sleeperAs(user, dir, bare),
        () => {
          const r = as([
            'run',
            '-q',
            '--ro',
            '/tmp:/x',
            '--',
            'sh',
            '-c',
            `for f in /x/cordon-${user.uid}/*; do echo "$f"; done`,
          ])
          assert.equal(r.status, 0, r.stderr)
          assert.equal(r.stdout, `/x/cordon-${user.uid}/*\n`)
        },
      )
    })

    test('a sandbox with /tmp writable cannot make the state directory other runs would use', (t) => {
      // A user whose shell has XDG_RUNTIME_DIR: its runs from cron keep their state (and their
      // filed plans) in /tmp/cordon-UID, which every compile makes first, to hide it.
      const { user, as } = plainUserScratch(t, 'state-plant')
      const other = `/tmp/cordon-${user.uid}/cordon`
      const r = as([
        'run',
        '-q',
        '--rw',
        '/tmp',
        '--',
        'sh',
        '-c',
        `mkdir -p ${other}/plans 2>/dev/null && touch ${other}/plans/x 2>/dev/null && echo planted || echo refused`,
      ])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, 'refused\n')
      assert.ok(!existsSync(`${other}/plans/x`))
    })

    test('a root caller keeping host root: /run/cordon shows empty, natively and on each runtime', async () => {
      const project = projectDir()
      const backends = [
        'native',
        ...(hasCommand('runc') ? ['runc'] : []),
        ...(hasCommand('runsc') ? ['gvisor'] : []),
      ]
      await withRunning(
        '/run/cordon',
        () =>
          spawn(process.execPath, [CLI, 'run', '-q', '--', 'sleep', '30'], {
            cwd: project,
            env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
            stdio: 'ignore',
          }),
        () => {
          for (const backend of backends) {
            const r = cordon(
              [
                'run',
                '-q',
                '--backend',
                backend,
                '--host-root',
                '--profile',
                'minimal',
                '--ro',
                '/',
                '--',
                'sh',
                '-c',
                'for f in /run/cordon/*; do echo "$f"; done',
              ],
              { cwd: project, timeout: 120_000 },
            )
            assert.equal(r.status, 0, `${backend}: ${r.stderr}`)
            assert.equal(r.stdout, '/run/cordon/*\n', backend)
          }
        },
      )
    })
  },
)
