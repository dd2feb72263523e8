// A run without a mount namespace gets a private /tmp of its own (run/private-tmp.ts), which its
// supervisor removes when the run ends. A supervisor killed with SIGKILL left it behind, 0700 and
// owned by the sandbox's ids, one more per kill. The next such run of the same caller now removes
// every one whose supervisor is gone, whatever the dead sandbox left in it (a symlink out, a FIFO,
// a socket, a directory it made unreadable, a tree deeper than PATH_MAX), never following a link
// out of it, without waiting for it, and never a live run's.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { CLI, isRoot, plainUserScratch } from '../helpers.js'

// What the dead sandbox leaves in its $TMPDIR; $1 is a directory outside it, which must survive.
const FILL = `
cd "$TMPDIR" || exit 1
ln -s "$1" out && ln -s "$1/keep" out-file
mkfifo fifo
python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")' 2>/dev/null
mkdir locked && touch locked/f && chmod 000 locked
n=$(printf '%0200d' 0)
i=0; while [ $i -lt 30 ]; do mkdir "$n" && cd -P "$n" 2>/dev/null || exit 1; i=$((i+1)); done
echo "ready $TMPDIR"
exec sleep 1000
`

async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (let waited = 0; !what() && waited < ms; waited += 50) await sleep(50)
  return what()
}

describe(
  'a killed supervisor’s private /tmp',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    for (const as of ['the plain user', 'root'])
      test(`is removed by the next run of the same caller, and only it (as ${as})`, async (t) => {
        let dir: string
        let ids: { uid?: number; gid?: number } = {}
        let env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
        if (as === 'root') {
          dir = mkdtempSync(join(tmpdir(), 'cordon-sweep-'))
          chmodSync(dir, 0o755)
          t.after(() => rmSync(dir, { recursive: true, force: true }))
        } else {
          const scratch = plainUserScratch(t, 'sweep')
          ;({ dir, env } = scratch)
          ids = scratch.user
        }
        const victim = join(dir, 'victim')
        mkdirSync(victim)
        writeFileSync(join(victim, 'keep'), 'keep')
        writeFileSync(join(dir, 'fill.sh'), FILL)
        spawnSync('chown', ['-R', `${ids.uid ?? 0}:${ids.gid ?? 0}`, dir])
        const started: ChildProcess[] = []
        const run = (args: string[]) => {
          const child = spawn(
            process.execPath,
            [CLI, 'run', '-q', '--no-namespaces', '--acknowledge', 'no-view', '--', ...args],
            { cwd: dir, env, ...ids, stdio: ['ignore', 'pipe', 'inherit'] },
          )
          started.push(child)
          let out = ''
          child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
          return { child, out: () => out }
        }
        const tmps: string[] = []
        t.after(() => {
          for (const c of started) c.kill('SIGKILL')
          for (const tmp of tmps) spawnSync('rm', ['-rf', '--', tmp])
        })
        const tmpOf = async (r: ReturnType<typeof run>) => {
          assert.ok(await until(() => /^ready \/tmp\/cordon-tmp-\w+$/m.test(r.out()), 30_000), r.out())
          const tmp = /^ready (\S+)$/m.exec(r.out())![1]!
          tmps.push(tmp)
          return tmp
        }

        const live = run(['sh', '-c', 'echo "ready $TMPDIR"; exec sleep 1000'])
        const dead = run(['sh', join(dir, 'fill.sh'), victim])
        const liveTmp = await tmpOf(live)
        const deadTmp = await tmpOf(dead)
        dead.child.kill('SIGKILL')
        await new Promise((r) => dead.child.once('close', r))
        await sleep(500) // its launcher kills the sandbox; the directory stays
        assert.ok(existsSync(deadTmp), 'the killed supervisor could not remove it')

        const next = run(['true'])
        const code = await new Promise((r) => next.child.once('close', r))
        assert.equal(code, 0)
        assert.ok(await until(() => !existsSync(deadTmp), 30_000), 'the next run removed it')
        assert.equal(spawnSync('cat', [join(victim, 'keep')], { encoding: 'utf8' }).stdout, 'keep')
        assert.ok(existsSync(liveTmp), 'a live run keeps its own')
      })
  },
)

// In a pid namespace whose /proc is another namespace's (`unshare -p -f` without --mount-proc),
// /proc/PID is not our PID: a sweep there judged runs by strangers' start times, and swept a live
// run whose pid that /proc lacks (its name held start time 0). Now runs there sweep nothing and
// name their directories so that no sweep anywhere takes them for its own. The directory planted
// here is such a live run's, as main named it: the run in the namespace must leave it.
const PIDNS_RUN = `
pidns=$(readlink /proc/self/ns/pid | tr -dc 0-9)
planted=/tmp/cordon-tmp-\${pidns}_$2_0_sec7ab
mkdir -m 700 "$planted" || exit 3
node "$1" run -q --no-namespaces --acknowledge no-view -- sh -c 'echo "tmp $TMPDIR"' || exit 4
sleep 2 # a sweep runs in the background
if [ -d "$planted" ]; then echo "kept $planted"; else echo "swept $planted"; fi
`

describe(
  'runs in a pid namespace under another’s /proc',
  { skip: isRoot ? false : 'needs root for a pid namespace' },
  () => {
    test('sweep nothing, and name their /tmp so no sweep takes it', { timeout: 120_000 }, (t) => {
      if (spawnSync('unshare', ['-p', '-f', 'true']).status !== 0)
        return t.skip('unshare -p -f is not available here')
      // A pid free in the host's /proc, where the run would look it up.
      let pid = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) - 1000
      while (existsSync(`/proc/${pid}`)) pid--
      const r = spawnSync('unshare', ['-p', '-f', 'sh', '-c', PIDNS_RUN, 'sh', CLI, String(pid)], {
        encoding: 'utf8',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      })
      const planted = /^(kept|swept) (\S+)$/m.exec(r.stdout)
      const tmp = /^tmp (\S+)$/m.exec(r.stdout)?.[1]
      t.after(() => {
        for (const dir of [planted?.[2], tmp]) if (dir) spawnSync('rm', ['-rf', '--', dir])
      })
      assert.ok(planted && tmp, `${r.status} ${r.stdout} ${r.stderr}`)
      assert.equal(planted[1], 'kept', 'the run swept nothing')
      assert.match(tmp, /^\/tmp\/cordon-tmp-unowned_\w{6}$/, 'named so no sweep takes it for its own')
    })
  },
)
