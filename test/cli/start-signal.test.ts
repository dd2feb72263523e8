// A signal that ends cordon while it starts a sandbox leaves nothing behind (helper-114). The run
// makes the sandbox's cgroup and registry record a moment before the go; a SIGTERM between the
// two ended cordon by Node's default action, and both stayed until the next run's sweep or
// `ps`. strace delivers the signal on a chosen syscall of cordon's own, so each moment of the
// start is hit every time, not by luck: after each cgroup mkdir, before and after the
// launcher's start, as the record is written. The signal then either ends cordon before
// anything is made or reaches the command: cordon dies of it (as its command did), and what it
// made is gone.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { canStrace, CLI, isRoot, plainUserScratch, projectDir } from '../helpers.js'

/** The cordon/ groups of every mounted cgroup hierarchy: where a root run's cgroup is made. */
function cordonGroups(): string[] {
  const dirs: string[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ')
    const fsType = fields[fields.indexOf('-') + 1]
    if (fsType === 'cgroup' || fsType === 'cgroup2') {
      const dir = join(fields[4]!, 'cordon')
      if (existsSync(dir)) dirs.push(dir)
    }
  }
  return dirs
}

/** What of cordon's run (pid `pid`, command line marked `marker`) is left in `registry`. */
function leftOver(pid: number, marker: string, registry: string): string[] {
  const left: string[] = []
  for (const dir of cordonGroups())
    for (const name of readdirSync(dir))
      if (name.startsWith(`run-${pid}-`)) left.push(`cgroup ${join(dir, name)}`)
  if (existsSync(registry))
    for (const name of readdirSync(registry))
      if (name.endsWith('.json') && readFileSync(join(registry, name), 'utf8').includes(marker))
        left.push(`record ${join(registry, name)}`)
  return left
}

/** The syscalls of cordon's start a signal is delivered on, each a run of its own. */
const LAUNCHER_MOMENTS = ['socketpair:when=1', 'pidfd_open:when=1', 'pidfd_open:when=2', 'rename:when=1']
/** A root run with limits also makes its cgroup: a group and its parent per controller. */
const ROOT_MOMENTS = [...Array.from({ length: 10 }, (_, i) => `mkdir:when=${i + 1}`), ...LAUNCHER_MOMENTS]

/** `cordon ARGS` under strace, `signal` (SIGTERM, or a number) delivered at `moment`; its pid,
 * how it ended, its stderr. */
function startSignalled(
  moment: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number; inject?: string },
) {
  const { inject: signal = 'SIGTERM', ...spawnOptions } = options
  // In the working directory, which the plain user can write.
  const pidFile = join(options.cwd, `.start-signal-pid`)
  const log = join(options.cwd, `.start-signal-trace`)
  try {
    const [name, when] = moment.split(':')
    const r = spawnSync(
      'strace',
      [
        '-qq',
        '-o',
        log,
        '-e',
        `trace=${name}`,
        '-e',
        `inject=${name}:signal=${signal}:${when}`,
        'sh',
        '-c',
        `echo $$ > ${pidFile}; exec "$@"`,
        'sh',
        process.execPath,
        CLI,
        ...args,
      ],
      { ...spawnOptions, encoding: 'utf8', timeout: 30_000 },
    )
    return {
      pid: Number(readFileSync(pidFile, 'utf8')),
      delivered: /--- SIG/.test(readFileSync(log, 'utf8')),
      status: r.status,
      signal: r.signal,
      stderr: r.stderr,
    }
  } finally {
    rmSync(pidFile, { force: true })
    rmSync(log, { force: true })
  }
}

/** Waits (up to 5 s) for what the run made to go: a launcher ends a moment after cordon. */
async function settledLeftOver(pid: number, marker: string, registry: string): Promise<string[]> {
  let left = leftOver(pid, marker, registry)
  for (let i = 0; i < 50 && left.length; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    left = leftOver(pid, marker, registry)
  }
  return left
}

/** `cordon ARGS` signalled at each of `moments`: the signal came (the call is in this start),
 * `ended` judges how cordon ended, and nothing of the run (marked `marker`) is left in
 * `registry` or the cgroups. */
async function signalledAtEach(
  moments: readonly string[],
  args: string[],
  options: Parameters<typeof startSignalled>[2],
  left: { marker: string; registry: string },
  ended: (r: ReturnType<typeof startSignalled>, moment: string) => void,
): Promise<void> {
  for (const moment of moments) {
    const r = startSignalled(moment, args, options)
    assert.ok(r.delivered, `${moment}: no such call in the start`)
    ended(r, moment)
    assert.deepEqual(await settledLeftOver(r.pid, left.marker, left.registry), [], moment)
  }
}

/** Died of the SIGTERM, as its command did. */
const diedOfIt = (r: ReturnType<typeof startSignalled>, moment: string) =>
  assert.equal(r.signal, 'SIGTERM', `${moment}: ended ${r.status ?? r.signal}: ${r.stderr}`)

describe(
  'a SIGTERM during the start',
  { skip: canStrace() ? false : 'needs strace, allowed to trace' },
  () => {
    test(
      'as root: the run dies of it, its cgroup and record gone (compiled and filed plans)',
      {
        skip: isRoot ? false : 'needs root for a cgroup of its own',
      },
      async () => {
        const cwd = projectDir()
        const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
        const marker = `start-signal-${process.pid}`
        // --memory: a cgroup is made. The same command line each time: the first run compiles and
        // files its plan, the later ones start from it (cli/run-fast.ts), a start of its own.
        // The first run finds its file in the working directory (shown read-only) and ends at once.
        const quick = join(cwd, marker)
        const args = ['run', '-q', '--memory', '256M', '--', 'sh', '-c', 'test -e "$0" || sleep 5', marker]
        writeFileSync(quick, '')
        const first = spawnSync(process.execPath, [CLI, ...args], { cwd, env })
        rmSync(quick)
        assert.equal(first.status, 0, String(first.stderr))
        await signalledAtEach(ROOT_MOMENTS, args, { cwd, env }, { marker, registry: '/run/cordon' }, diedOfIt)
      },
    )

    // Node listens to no real-time signal: cordon died of one at any moment of the start, and
    // what it made stayed. The addon holds them from the start guard on and passes them on with
    // the forwarding (host/forward-all.ts): the command dies of it (128+37), or, sent before the
    // hold, cordon does before anything is made.
    test(
      'as root, SIGRTMIN+3: the command or cordon dies of it, its cgroup and record gone',
      {
        skip: isRoot ? false : 'needs root for a cgroup of its own',
      },
      async () => {
        const cwd = projectDir()
        const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
        const marker = `start-signal-rt-${process.pid}`
        const args = ['run', '-q', '--memory', '256M', '--', 'sh', '-c', 'sleep 5', marker]
        await signalledAtEach(
          ROOT_MOMENTS,
          args,
          { cwd, env, inject: '37' },
          { marker, registry: '/run/cordon' },
          (r, moment) =>
            assert.ok(
              r.status === 165 || (r.status === null && r.signal !== null),
              `${moment}: ended ${r.status ?? r.signal}: ${r.stderr}`,
            ),
        )
      },
    )

    test(
      'learn: the command gets it, its cgroup and record gone',
      {
        skip: isRoot ? false : 'needs root for a cgroup of its own',
      },
      async () => {
        const cwd = projectDir()
        const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
        const marker = `start-signal-learn-${process.pid}`
        const args = ['learn', '-o', join(cwd, 'learned.yaml'), '--', 'sh', '-c', 'sleep 5', marker]
        await signalledAtEach(
          ['mkdir:when=2', 'mkdir:when=6', ...LAUNCHER_MOMENTS],
          args,
          { cwd, env },
          { marker, registry: '/run/cordon' },
          (r, moment) => assert.match(r.stderr, /killed by SIGTERM/, moment),
        )
      },
    )

    test(
      'as a plain user: the run dies of it, its record gone',
      {
        skip: isRoot ? false : 'needs root to create the test user',
      },
      async (t) => {
        const { user, dir, env } = plainUserScratch(t, 'start-signal')
        const marker = `start-signal-${process.pid}`
        const args = ['run', '-q', '--', 'sh', '-c', 'sleep 3', marker]
        await signalledAtEach(
          LAUNCHER_MOMENTS,
          args,
          { cwd: dir, env, uid: user.uid, gid: user.gid },
          { marker, registry: join(env.XDG_RUNTIME_DIR, 'cordon') },
          diedOfIt,
        )
      },
    )
  },
)

// With a responder (learn, --audit, --monitor) the command hands the launcher a pidfd and then
// installs its filter, whose listener the launcher takes. A command that died in between (a
// forwarded SIGTERM: CI43, once) was reported as cordon's own failure, exit 125 without a word,
// and learn said "the command exited with 125". strace, the tracer of every process here, kills
// the command at its listener's seccomp(), failed, so no listener ever comes: the run dies of
// the SIGTERM as its command did.
describe(
  'a command killed while the launcher takes its listener',
  { skip: canStrace() ? false : 'needs strace, allowed to trace' },
  () => {
    /** `cordon ARGS` under strace -f, the command's listener's seccomp() failed with a SIGTERM. */
    function killedAtListener(
      args: string[],
      options: { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number },
    ) {
      const log = join(options.cwd, '.listener-trace')
      try {
        const r = spawnSync(
          'strace',
          [
            '-f',
            '-qq',
            '-o',
            log,
            '-e',
            'trace=seccomp',
            '-e',
            // The command's only one: the init guard is a layer of its filter (no second).
            'inject=seccomp:error=EPERM:signal=SIGTERM:when=1',
            process.execPath,
            CLI,
            ...args,
          ],
          { ...options, encoding: 'utf8', timeout: 30_000 },
        )
        // The command's listener call is the one failed: the moment is hit, not the run's start.
        assert.match(readFileSync(log, 'utf8'), /NEW_LISTENER.*INJECTED/, r.stderr)
        return r
      } finally {
        rmSync(log, { force: true })
      }
    }
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
    for (const mode of [
      ['run', '--monitor'],
      ['run', '--audit'],
    ]) {
      test(`${mode.join(' ')}: the run dies of it`, () => {
        const r = killedAtListener([...mode, '-q', '--', 'sh', '-c', 'sleep 3'], { cwd: projectDir(), env })
        assert.equal(r.signal, 'SIGTERM', `ended ${r.status ?? r.signal}: ${r.stderr}`)
      })
    }
    test(
      'learn: says the command was killed, as root and as a plain user',
      { skip: isRoot ? false : 'needs root to create the test user' },
      (t) => {
        const cwd = projectDir()
        const root = killedAtListener(
          ['learn', '-o', join(cwd, 'learned.yaml'), '--', 'sh', '-c', 'sleep 3'],
          { cwd, env },
        )
        assert.match(root.stderr, /killed by SIGTERM/)
        const { user, dir, env: userEnv } = plainUserScratch(t, 'listener-signal')
        const plain = killedAtListener(
          ['learn', '-o', join(dir, 'learned.yaml'), '--', 'sh', '-c', 'sleep 3'],
          { cwd: dir, env: userEnv, uid: user.uid, gid: user.gid },
        )
        assert.match(plain.stderr, /killed by SIGTERM/)
      },
    )
  },
)

// Held from the process's start (the first version of this), a signal waited behind whatever
// blocked cordon before the sandbox's start: a policy read from a FIFO or a terminal, and Ctrl-C
// did nothing (helper-117). Before the start, the default action ends cordon at once.
test('a SIGTERM while cordon waits to read its policy ends it at once', async () => {
  const cwd = projectDir()
  const fifo = join(cwd, `policy-${process.pid}.fifo`)
  spawnSync('mkfifo', [fifo])
  try {
    const child = spawn(process.execPath, [CLI, 'run', '-p', fifo, '--', 'true'], {
      cwd,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      stdio: 'ignore',
    })
    const ended = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    )
    // Until it is blocked in the FIFO's open: then its wait channel is the pipe's.
    for (let i = 0; i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const wchan = readFileSync(`/proc/${child.pid}/wchan`, 'utf8')
      if (/fifo|pipe|wait_for_partner/.test(wchan)) break
    }
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    assert.equal(await ended, 'SIGTERM', 'it died of the signal, not of the SIGKILL after 5 s')
    clearTimeout(timer)
  } finally {
    rmSync(fifo, { force: true })
  }
})
