// A signal sent to the whole job reaches the launcher directly and again through cordon, which
// passes on what it gets; the launcher passes the first on and drops the other as its copy
// (native/launcher.c is_copy). cordon may pass on two: timeout(1) signals its child and then
// its group, and a cordon whose handler ran between the two kills had two deliveries. The
// command then got the signal twice, milliseconds apart, where unsandboxed the two kills land
// microseconds apart as one pending signal: a handler that writes its summary and raises the
// signal again wrote it twice (a CI run read 200000 of 100000 bytes). strace gives cordon its
// second delivery at a chosen moment, as it forwards the first, so the case is hit every run.
import assert from 'node:assert/strict'
import { chownSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { callers, canStrace, CLI, cordonShell, NAMESPACE_MODES } from '../helpers.js'
import { NO_NAMESPACES } from '../../src/policy/profiles.js'

const base = `/tmp/cordon-sigcopy-${process.pid}`
process.once('exit', () => rmSync(base, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }))

/** Counts its SIGTERMs for four seconds after saying it is ready, then prints the count. */
const COUNTER_PY =
  `import signal, sys, time\n` +
  `n = 0\n` +
  `def h(s, f):\n  global n\n  n += 1\n` +
  `signal.signal(signal.SIGTERM, h)\nprint("ready", flush=True)\n` +
  `end = time.monotonic() + 4\nwhile time.monotonic() < end: time.sleep(0.05)\nprint(n)`
const COUNTER = `python3 -c '${COUNTER_PY}'`
const INDEX = join(dirname(CLI), '..', 'build', 'src', 'index.js')

/** The shell that runs COUNTER under `cordon run FLAGS` with strace giving cordon a SIGTERM of
 * its own as it passes on its first signal, sends `rounds` job-wide SIGTERMs a second apart (to
 * the launcher and to cordon, as a group kill does), and prints what the command printed. */
function script(flags: string, rounds: number, then = ''): string {
  return (
    `strace -qq -o /dev/null -e trace=pidfd_send_signal -e inject=pidfd_send_signal:signal=SIGTERM:when=1 ` +
    `$CORDON run -q ${flags} -- ${COUNTER} > out & T=$!; ` +
    // Until the command is ready and both pids are read (CI23: an empty pgrep under load).
    `for i in $(seq 400); do N=$(pgrep -P $T); L=$([ -n "$N" ] && pgrep -P $N -x cordon-exec); ` +
    `[ -n "$L" ] && grep -q ready out 2>/dev/null && break; sleep 0.05; done; ` +
    `for r in $(seq ${rounds}); do kill -TERM $L $N; sleep 1; done; ${then}` +
    `wait $T; echo "rc=$?"; cat out`
  )
}

/** The shell that runs COUNTER under `cordon ARGS`, runs `then` once the command is ready ($N
 * is cordon, $L its launcher), and prints what the command printed. */
function direct(args: string, then: string, command = COUNTER, prefix = ''): string {
  return (
    `${prefix}$CORDON ${args} -- ${command} > out & N=$!; ` +
    `for i in $(seq 400); do L=$(pgrep -P $N -x cordon-exec); ` +
    `[ -n "$L" ] && grep -q ready out 2>/dev/null && break; sleep 0.05; done; ` +
    `${then}wait $N; echo "rc=$?"; cat out`
  )
}

const shell = (text: string, dir: string, user?: { uid: number; gid: number }) =>
  cordonShell(text, dir, user, `${dir}/rt`)

for (const c of callers())
  for (const m of NAMESPACE_MODES)
    describe(
      `signal copies, as ${c.who}, ${m.name}`,
      { skip: !canStrace() && 'strace cannot run here' },
      () => {
        const dir = `${base}/${c.user ? 'user' : 'root'}-${m.flags ? 'nons' : 'ns'}`
        mkdirSync(dir, { recursive: true, mode: 0o755 })
        mkdirSync(`${dir}/rt`, { mode: 0o700 })
        if (c.user) for (const d of [base, dir, `${dir}/rt`]) chownSync(d, c.user.uid, c.user.gid)

        test('a job-wide signal reaches the command once, however many copies cordon passes on', () => {
          const r = shell(script(m.flags, 1), dir, c.user)
          assert.equal(r.stdout, 'rc=0\nready\n1\n', r.stderr)
        })

        // helper-126: a window of 3 s for every copy dropped a `kill <cordon>` a second after a
        // job-wide signal: copies come together, or within a burst of each other. Sent 1.5 s
        // after: a job-wide signal the kernel merged with its copy leaves the first copy's
        // window (a second) armed (README: known limit; CI19 under load).
        test('a signal sent to cordon alone after a job-wide one reaches the command too', () => {
          const r = shell(script(m.flags, 1, 'sleep 0.5; kill -TERM $N; sleep 1; '), dir, c.user)
          assert.equal(r.stdout, 'rc=0\nready\n2\n', r.stderr)
        })

        // Forwarded as the plain signal, cordon's copy and the job-wide one waiting together for a
        // launcher slow to read (here stopped) were one pending signal to the kernel: the copy
        // the launcher still expected took the place of the next signal from cordon's side
        // (helper-127). A forward is queued on its own as FORWARD_SIGNAL (native/command.h).
        test('a signal to cordon alone after a job-wide one the launcher was slow to read reaches the command', () => {
          const merged =
            'kill -STOP $L; kill -TERM $L $N; sleep 0.3; kill -CONT $L; sleep 0.5; kill -TERM $N; '
          const r = shell(direct(`run -q ${m.flags}`, merged), dir, c.user)
          assert.equal(r.stdout, 'rc=0\nready\n2\n', r.stderr)
        })

        // A forward queued as FORWARD_SIGNAL counts against the user's RLIMIT_SIGPENDING, which the
        // sandbox's own queued signals fill (its uid is the caller's or maps to it): refused, it
        // goes as the signal itself, which that limit never refuses (helper-128: it was lost).
        test('a signal to cordon reaches the command when the sandbox has filled the pending-signal limit', () => {
          const fill =
            `python3 -c 'import os, signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {40})\n` +
            `for i in range(200): os.kill(os.getpid(), 40)\n${COUNTER_PY}'`
          const r = shell(
            direct(`run -q ${m.flags}`, 'kill -TERM $N; ', fill, 'prlimit --sigpending=64 '),
            dir,
            c.user,
          )
          assert.equal(r.stdout, 'rc=0\nready\n1\n', r.stderr)
        })

        // Over the limit the kernel delivers a signal without its sender (pid 0), so the launcher
        // could not tell cordon's plain fallback from the job-wide one: a real-time signal sent
        // to the whole job reached the command twice (helper-132).
        test('a job-wide real-time signal reaches the command once when the sandbox has filled the pending-signal limit', () => {
          const fill =
            `python3 -c 'import os, signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {50})\n` +
            `for i in range(200): os.kill(os.getpid(), 50)\nn = 0\n` +
            `def h(s, f):\n  global n\n  n += 1\nsignal.signal(40, h)\nprint("ready", flush=True)\n` +
            `end = time.monotonic() + 4\nwhile time.monotonic() < end: time.sleep(0.05)\nprint(n)'`
          const r = shell(
            direct(`run -q ${m.flags}`, 'kill -40 $L $N; ', fill, 'prlimit --sigpending=64 '),
            dir,
            c.user,
          )
          assert.equal(r.stdout, 'rc=0\nready\n1\n', r.stderr)
        })

        // learn and --audit forward as run does: a Ctrl-C reached the program twice.
        test('under learn and --audit, a job-wide signal reaches the command once', () => {
          for (const args of [`learn -o policy.yaml ${m.flags}`, `run -q --audit ${m.flags}`]) {
            const r = shell(direct(args, 'kill -TERM $L $N; '), dir, c.user)
            assert.equal(r.stdout, 'rc=0\nready\n1\n', `${args}: ${r.stderr}`)
          }
        })

        // A library caller of spawn() passes on nothing: every signal the launcher gets is the
        // command's (its kill() and a Ctrl-C of its terminal were taken for one signal).
        test('under spawn(), its kill() and a signal to the launcher both reach the command', () => {
          const libPolicy = {
            extends: ['default'],
            ...(m.flags ? { namespaces: { ...NO_NAMESPACES, net: false }, acknowledge: ['no-view'] } : {}),
          }
          const lib = `node --input-type=module -e '
          const { spawn } = await import("${INDEX}")
          const cp = await import("node:child_process")
          const p = spawn(${JSON.stringify(libPolicy)}, "python3", ["-c", ${JSON.stringify(COUNTER_PY)}], { stdio: ["ignore", "inherit", "inherit"] })
          await new Promise((r) => setTimeout(r, 1500))
          p.kill("SIGTERM")
          await new Promise((r) => setTimeout(r, 300))
          cp.spawnSync("kill", ["-TERM", String(p.launcherPid)])
          await p.exited'`
          const r = shell(lib, dir, c.user)
          assert.equal(r.stdout, 'ready\n2\n', r.stderr)
        })

        /** Under run, learn and --audit: a command counting each of `signals` for four seconds
         * after `send` (direct's `then`) prints `counts`. */
        const everyMode = (send: string, signals: number[], counts: string) => {
          const py =
            `import signal, time\nn = {}\ndef h(s, f): n[s] = n.get(s, 0) + 1\n` +
            `for s in (${signals.join(', ')}): signal.signal(s, h)\nprint("ready", flush=True)\n` +
            `end = time.monotonic() + 4\nwhile time.monotonic() < end: time.sleep(0.05)\n` +
            `print(*(n.get(s, 0) for s in (${signals.join(', ')})))`
          for (const args of [
            `run -q ${m.flags}`,
            `learn -o policy.yaml ${m.flags}`,
            `run -q --audit ${m.flags}`,
          ]) {
            const r = shell(direct(args, send, `python3 -c '${py}'`), dir, c.user)
            assert.equal(r.stdout, `rc=0\nready\n${counts}\n`, `${args}: ${r.stderr}`)
          }
        }

        // Node can listen to no real-time signal and cordon died of one (and of SIGPWR, which it
        // did not listen to), taking the sandbox with it, where the program unsandboxed handles
        // it. The addon's handler passes them on (native/forward-signal.h forwarded_all), the
        // launcher drops a job-wide one's copy, and cordon still dies of the command's signal.
        test('SIGALRM, SIGPWR, SIGRTMIN+3, 61 and 62 reach the command, once when job-wide, under run, learn and --audit', () => {
          // 61 and 62 are the launcher's and init's own (a forward, a freeze's wake-up): they
          // stayed pending in init, and a job-wide 62 froze the sandbox for good (helper-132).
          const send =
            'kill -ALRM $N; kill -PWR $L $N; kill -37 $L $N; kill -61 $L $N; kill -62 $L $N; sleep 1.5; kill -37 $N; '
          everyMode(send, [14, 30, 37, 61, 62], '1 1 2 1 1')
          const r = shell(`$CORDON run -q ${m.flags} -- sh -c 'kill -37 $$'; echo "rc=$?"`, dir, c.user)
          assert.equal(r.stdout, 'rc=165\n', `cordon dies of the command's signal: ${r.stderr}`)
        })

        // A sent SIGSEGV, SIGPIPE or SIGABRT ended cordon and the sandbox with it, where runc
        // passes it on: the addon's handler tells one sent from cordon's own fault, write or
        // abort (si_code, si_pid), as the launcher does for its own (a write to a closed pipe).
        test('SIGSEGV, SIGBUS, SIGPIPE, SIGABRT, SIGXFSZ and SIGSYS sent reach the command, once when job-wide', () => {
          const send =
            'kill -SEGV $N; kill -BUS $L $N; kill -PIPE $N; kill -ABRT $L $N; kill -XFSZ $N; kill -SYS $L $N; '
          everyMode(send, [11, 7, 13, 6, 25, 31], '1 1 1 1 1 1')
          const r = shell(
            direct(`run -q ${m.flags}`, 'kill -BUS $N; ', 'sh -c "echo ready; sleep 5"'),
            dir,
            c.user,
          )
          assert.equal(r.stdout, 'rc=135\nready\n', `the command dies of it: ${r.stderr}`)
        })

        // glibc's own 33 (SIGSETXID), which glibc lets no program block or handle: the launcher,
        // of one thread, died of it, and cordon exited 125 without a word, where unsandboxed the
        // command gets it. One of one thread dies of it; Node, which glibc gives a handler, lives.
        test('a job-wide 33 reaches the command, under run, learn and --audit, and only the command', () => {
          for (const args of [
            `run -q ${m.flags}`,
            `learn -o policy.yaml ${m.flags}`,
            `run -q --audit ${m.flags}`,
          ]) {
            const r = shell(direct(args, 'kill -33 $L $N; ', 'sh -c "echo ready; sleep 5"'), dir, c.user)
            assert.equal(r.stdout, 'rc=161\nready\n', `${args}: ${r.stderr}`)
          }
          const node = `node -e 'console.log("ready"); setTimeout(() => console.log("alive"), 1500)'`
          const r = shell(direct(`run -q ${m.flags}`, 'kill -33 $L $N; ', node), dir, c.user)
          assert.equal(r.stdout, 'rc=0\nready\nalive\n', r.stderr)
        })

        // Copies are dropped, not the same signal sent again: a second Ctrl-C is a second one.
        test('a job-wide signal sent twice reaches the command twice', () => {
          const r = shell(script(m.flags, 2), dir, c.user)
          assert.equal(r.stdout, 'rc=0\nready\n2\n', r.stderr)
        })
      },
    )
