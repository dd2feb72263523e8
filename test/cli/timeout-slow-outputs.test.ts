// A run's timeout holds whatever its outputs do. cordon's own lines (alerts, warnings) go to
// stderr, and its events to --events-fd: a reader that does not read, a pipe that is full, must
// not stop cordon, or its timeout (a timer on cordon's event loop) would wait for the reader
// while the program runs on. The reader here starts only once cordon has ended, or after a
// bound well past the timeout (a cordon held up by it ends then): the program's timestamps say
// how long it ran.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ensureTestUser, isRoot, ROOT } from '../helpers.js'

const CLI = join(ROOT, 'bin', 'cordon.cjs')
const TIMEOUT_MS = 2000
/** The reader waits this long at most for cordon to end, well past the timeout: cordon, its run
 * over, then waits for the reader to take the lines it holds (they are not lost). */
const READER_BOUND_S = 6

const sh = (argv: string[]) => argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')

/** The program: a timestamp, then 200 execs (each an alert of ~5 KB under the rule below, well
 * past what a pipe holds), then a timestamp every 50 ms until killed. */
const PROGRAM = `date +%s.%N >> "$1/ts"
i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done
while :; do date +%s.%N >> "$1/ts"; sleep 0.05; done
`

interface Outcome {
  /** Where the program's fd 2 led (the socket case records it). */
  fd2: string
  /** Seconds from the program's first timestamp to its last. */
  ran: number
  status: string
  /** What cordon wrote to the slow reader. */
  read: string
}

/** A socket as stderr has no description of its own to open: the program fills it first (its
 * writer blocks until the sandbox is killed), so that cordon's first alert finds it full. Where
 * fd 2 leads is recorded, to show the test had a socket there. */
const SOCKET_PROGRAM = `readlink /proc/self/fd/2 > "$1/fd2"
date +%s.%N >> "$1/ts"
head -c 1000000 /dev/zero >&2 &
sleep 0.3
${PROGRAM.split('\n').slice(1).join('\n')}`

/** Runs argv (cordon) with its stderr a unix socket (Node's 'pipe' is a socketpair) read only
 * once it has ended, or after READER_BOUND_S; writes its status to DIR/status and prints what it
 * read. Run by `node -e` with [argv, dir] as its argument. */
const SOCKET_DRIVER = `
const { spawn } = require('node:child_process')
const { writeFileSync } = require('node:fs')
const { constants } = require('node:os')
const [argv, dir, boundS] = JSON.parse(process.argv[1])
const c = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir })
c.stderr.pause()
const out = []
let reading = false
const read = () => {
  if (reading) return
  reading = true
  c.stderr.on('data', (d) => out.push(d))
  c.stderr.resume()
}
const timer = setTimeout(read, boundS * 1000)
c.on('exit', (code, signal) => {
  writeFileSync(dir + '/status', String(code ?? 128 + constants.signals[signal]))
  clearTimeout(timer)
  read()
})
c.on('close', () => process.stdout.write(Buffer.concat(out)))
`

/** `cordon run` of PROGRAM with --timeout, its stderr (or its events, on fd 3) to a pipe that is
 * read only once cordon has ended; 'socket': its stderr a unix socket, filled by the program. */
function slowReader(
  which: 'stderr' | 'events' | 'socket',
  extra: string[],
  user?: { uid: number; gid: number },
  env: NodeJS.ProcessEnv = {},
): Outcome {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-timeout-'))
  try {
    chmodSync(dir, 0o777) // --no-namespaces as root runs the program as another uid
    writeFileSync(join(dir, 'prog.sh'), which === 'socket' ? SOCKET_PROGRAM : PROGRAM)
    writeFileSync(
      join(dir, 'rules.yaml'),
      `rules:\n  - rule: every-exec\n    when: exec\n    then: alert\n    priority: warning\n    output: '{exe} ${'x'.repeat(5000)}'\n`,
    )
    if (user) chownSync(dir, user.uid, user.gid)
    const argv = [
      process.execPath,
      CLI,
      'run',
      ...extra,
      '--rw',
      dir,
      '--monitor',
      '--rules',
      join(dir, 'rules.yaml'),
      ...(which === 'events' ? ['--events-fd', '3'] : []),
      '--timeout',
      `${TIMEOUT_MS}ms`,
      '--',
      'sh',
      join(dir, 'prog.sh'),
      dir,
    ]
    const redirect = which === 'stderr' ? '2>&1 >/dev/null' : '3>&1 >/dev/null 2>/dev/null'
    const done = join(dir, 'done')
    const script =
      `{ ${sh(argv)} ${redirect}; echo $? > '${dir}/status'; touch '${done}'; } | ` +
      `{ n=0; until [ -e '${done}' ] || [ $n -ge ${READER_BOUND_S * 10} ]; do sleep 0.1; n=$((n + 1)); done; cat; }`
    const [file, args] =
      which === 'socket'
        ? [process.execPath, ['-e', SOCKET_DRIVER, JSON.stringify([argv, dir, READER_BOUND_S])]]
        : ['sh', ['-c', script]]
    const r = spawnSync(file, args, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '', ...env },
      timeout: 60_000,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    })
    const stamps = readFileSync(join(dir, 'ts'), 'utf8').trim().split('\n').map(Number)
    return {
      fd2: existsSync(join(dir, 'fd2')) ? readFileSync(join(dir, 'fd2'), 'utf8').trim() : '',
      ran: stamps[stamps.length - 1]! - stamps[0]!,
      status: existsSync(join(dir, 'status')) ? readFileSync(join(dir, 'status'), 'utf8').trim() : '',
      read: r.stdout,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const modes: { name: string; extra: string[]; user?: boolean }[] = [
  { name: 'namespaced', extra: [] },
  { name: '--no-namespaces', extra: ['--no-namespaces', '--acknowledge', 'no-view'] },
  { name: 'plain user', extra: [], user: true },
]

for (const mode of modes) {
  describe(
    `timeout with a slow reader (${mode.name})`,
    { skip: mode.user && !isRoot ? 'needs root' : false },
    () => {
      const user = () => (mode.user ? ensureTestUser() : undefined)

      test('a stderr nobody reads yet does not hold the timeout up', () => {
        const o = slowReader('stderr', mode.extra, user())
        assert.ok(o.ran < TIMEOUT_MS / 1000 + 1, `the program ran ${o.ran.toFixed(2)} s`)
        assert.equal(o.status, '137')
        // What waited is not lost: the reader gets it once it reads.
        assert.match(o.read, /every-exec/)
        assert.match(o.read, /cordon: timed out after 2000 ms/)
      })

      // No description of its own can be opened for a socket (/proc/self/fd refuses): cordon
      // sends its lines with MSG_DONTWAIT instead. Before, its first alert to a socket the
      // program had filled blocked cordon's event loop, and the program ran until the reader came.
      test('a stderr that is a socket, filled by the program, does not hold the timeout up', () => {
        const o = slowReader('socket', mode.extra, user())
        assert.ok(o.ran < TIMEOUT_MS / 1000 + 1, `the program ran ${o.ran.toFixed(2)} s`)
        assert.equal(o.status, '137')
        assert.match(o.fd2, /^socket:/, "the program's stderr was a socket")
        assert.match(o.read, /every-exec/)
        assert.match(o.read, /cordon: timed out after 2000 ms/)
      })

      // CORDON_SPAWN chooses spawn()'s starter, nothing else: it took the socket's send with it.
      test('so does it when spawn() starts through child_process (CORDON_SPAWN)', () => {
        const o = slowReader('socket', mode.extra, user(), { CORDON_SPAWN: 'child_process' })
        assert.ok(o.ran < TIMEOUT_MS / 1000 + 1, `the program ran ${o.ran.toFixed(2)} s`)
        assert.equal(o.status, '137')
        assert.match(o.read, /cordon: timed out after 2000 ms/)
      })

      // helper-113: a caller that waits for cordon's exit before it reads stderr (Python's
      // Popen.wait() before communicate()), the pipe full of the program's output: cordon, its
      // run over, waited for good to write its last line. `timeout` returns; so does cordon now,
      // its line in room made for it in the caller's pipe.
      test('a caller that reads stderr only once cordon has exited is not kept waiting', () => {
        const waiter =
          'import subprocess, sys, time\n' +
          't = time.time()\n' +
          'p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE)\n' +
          'p.wait(timeout=30)\n' +
          'took = time.time() - t\n' +
          'err = p.stderr.read()\n' +
          'print("took=%.1f rc=%d program=%d line=%s" % (took, p.returncode, err.count(b"\\0"), b"timed out after 2000 ms" in err))'
        const dir = mkdtempSync(join(tmpdir(), 'cordon-waiter-'))
        chmodSync(dir, 0o755)
        const u = user()
        if (u) chownSync(dir, u.uid, u.gid)
        const r = spawnSync(
          'python3',
          [
            '-c',
            waiter,
            process.execPath,
            CLI,
            'run',
            '-q',
            ...mode.extra,
            '--timeout',
            '2',
            '--',
            'sh',
            '-c',
            'head -c 100000 /dev/zero >&2; sleep 60',
          ],
          {
            cwd: dir,
            encoding: 'utf8',
            env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
            timeout: 60_000,
            ...(u ?? {}),
          },
        )
        rmSync(dir, { recursive: true, force: true })
        const m = /took=([\d.]+) rc=(\d+) program=(\d+) line=(\w+)/.exec(r.stdout)
        assert.ok(m, r.stdout + r.stderr)
        assert.ok(Number(m[1]) < TIMEOUT_MS / 1000 + 3, `cordon returned after ${m[1]} s`)
        assert.equal(m[2], '137')
        assert.ok(Number(m[3]) >= 65536, `the program's output in the pipe: ${m[3]} bytes`)
        assert.equal(m[4], 'True', "cordon's line reached the reader")
      })

      test('a full --events-fd pipe does not hold the timeout up', () => {
        const o = slowReader('events', mode.extra, user())
        assert.ok(o.ran < TIMEOUT_MS / 1000 + 1, `the program ran ${o.ran.toFixed(2)} s`)
        assert.equal(o.status, '137')
        assert.match(o.read, /"event":"started"/)
      })
    },
  )
}

// helper-114: a timer that fired as the command exited on its own made the run's reason
// `timeout` with the command's own status 0 ("timed out after 500 ms" on a run that exited 0,
// 11 of 40 runs). The launcher's report says whether the kill is what ended the command.
test('a command that exits just before its timeout is reported as exited', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-edge-'))
  chmodSync(dir, 0o755)
  try {
    for (let i = 0; i < 20; i++) {
      const r = spawnSync(process.execPath, [CLI, 'run', '-q', '--timeout', '300ms', '--', 'sleep', '0.29'], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        timeout: 30_000,
      })
      if (r.status === 0) assert.doesNotMatch(r.stderr, /timed out/, `run ${i}`)
      else {
        assert.equal(r.status, 137, r.stderr)
        assert.match(r.stderr, /timed out after 300 ms/)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
