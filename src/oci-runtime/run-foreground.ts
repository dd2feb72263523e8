// `run` in the foreground (create.ts prepares the container): the launcher supervises and
// passes the container's status on, through the C entry point's launch helper when there is
// one (native/oci-launch.h LAUNCH_REPORT_START), else spawned by Node.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { removeCgroups } from './cgroup-made.js'
import { childProcess } from './child-process.js'
import {
  type CreateOptions,
  finishCreate,
  hookFd,
  launcherArgs,
  launcherFailed,
  launcherPath,
  osSignals,
  type Prepared,
  prepare,
  relayHooks,
  runtimeHooks,
  stdio,
} from './create.js'
import { type Forwarding, holdSignals } from './forward-signals.js'
import { releaseLaunchHelper, startThrough, takeLaunchHelper } from './launch-helper.js'

/** A foreground launcher: how to signal it, where this process passes its signals on (`pid`,
 * as FORWARD_SIGNAL when `queued`), and how it ended (its exit status, or 128 + the signal that
 * ended it; `error` when a hook failed or it could not run). */
interface Running {
  kill(sig: NodeJS.Signals): void
  pid: number | undefined
  queued: boolean
  ended: Promise<{ code: number; error?: unknown }>
}

/** The launcher spawned by Node, which relays the runtime hooks. */
function spawnLauncher(p: Prepared, o: CreateOptions, fd: number | undefined): Running {
  const child = childProcess().spawn(launcherPath(), launcherArgs(p, false, o), {
    stdio: stdio(o.preserveFds, fd !== undefined),
  })
  const relay = fd === undefined ? undefined : relayHooks(child, fd, p)
  return {
    kill: (sig) => child.kill(sig),
    // As itself: from the launcher's parent (and --forwarded-by), the launcher tells it from the
    // job's. Not queued: libuv's child starts with nothing blocked, and FORWARD_SIGNAL before
    // the launcher blocks it would end it.
    pid: child.pid,
    queued: false,
    ended: new Promise((done) =>
      child.on('exit', (c, s) =>
        done({ code: c ?? 128 + (s ? (osSignals[s] ?? 15) : 0), error: relay?.error }),
      ),
    ),
  }
}

/** The launcher run by the C entry point's helper (launch-helper.ts startThrough), which runs
 * the runtime hooks too: Node loads no node:child_process. */
function helperLauncher(helper: number, p: Prepared, o: CreateOptions, fd: number | undefined): Running {
  const hook = fd === undefined ? undefined : { fd, hooks: runtimeHooks(p) }
  const r = startThrough(helper, launcherPath(), launcherArgs(p, false, o), p.umask, hook)
  // The helper leaves the launcher a zombie (its pid ours) until this process closes the
  // helper's socket; after the answer, no signal goes to that pid.
  let gone = false
  const kill = (sig: NodeJS.Signals) => {
    try {
      if (r.pid !== undefined && !gone) process.kill(r.pid, sig)
    } catch {}
  }
  return {
    kill,
    // The launcher's parent is the helper, not this process: the signal goes as FORWARD_SIGNAL
    // (native/forward-signal.h), which says it is a forward whoever sends it; the helper starts
    // the launcher with it blocked.
    pid: r.pid,
    queued: true,
    ended: r.done.then((x) => {
      gone = true
      return {
        code: x.status ?? 128 + (x.signal ?? 0),
        error: x.hookError ?? (x.error ? launcherFailed(x.error) : undefined),
      }
    }),
  }
}

/** `run` in the foreground: the launcher supervises and passes the container's status on;
 * through the C entry point's helper when there is one, unless sysctls or the monitor need
 * Node to spawn after the container starts (the helper is busy with the launcher then). */
export async function runForeground(o: CreateOptions): Promise<number> {
  const signals = holdSignals()
  const helper = takeLaunchHelper()
  try {
    return await runForegroundWith(o, helper, signals)
  } finally {
    signals.end()
    releaseLaunchHelper(helper)
  }
}

async function runForegroundWith(
  o: CreateOptions,
  helper: number | undefined,
  signals: Forwarding,
): Promise<number> {
  const p = await prepare(o)
  process.umask(p.umask)
  const fd = hookFd(p, o)
  const viaHelper = helper !== undefined && !p.sysctl.length && !p.supervise
  if (!viaHelper) releaseLaunchHelper(helper) // its fd is not close-on-exec: before any spawn
  let child: Running
  try {
    child = viaHelper ? helperLauncher(helper, p, o, fd) : spawnLauncher(p, o, fd)
  } catch (e) {
    forget(p) // before the finally's end of the hold, which may raise a signal held
    throw e
  }
  signals.to(child.pid, child.queued, (sig) => child.kill(sig))
  return await new Promise<number>((done, reject) => {
    let recorded = false
    const timer = setInterval(() => {
      const pid = recorded ? undefined : launcherPid(p)
      if (pid === undefined) return
      recorded = true
      clearInterval(timer)
      try {
        finishCreate(o, p, pid, true)
      } catch (e) {
        child.kill('SIGKILL')
        reject(e instanceof Error ? e : new Error(String(e)))
      }
    }, 5)
    void child.ended.then(({ code, error }) => {
      clearInterval(timer)
      // A container that ran and ended between two looks at its pid file (a short command, a
      // loaded host) is recorded now: `run --keep` leaves it for `state` and `delete`.
      const pid = recorded ? undefined : launcherPid(p)
      if (pid !== undefined) {
        recorded = true
        try {
          finishCreate(o, p, pid, true)
        } catch {}
      }
      if (!recorded && !existsSync(`${p.dir}/state.json`)) forget(p)
      if (error) {
        reject(error instanceof Error ? error : new Error(String(error)))
        return
      }
      done(code)
    })
  })
}

/** The pid the launcher wrote, once it is whole: read between the pid file's creation and its
 * write, it was "", taken for pid 0, and `state` said stopped for the whole run (CI53, CI56).
 * The launcher renames the file into place now; a pid is still read only when it is one. */
function launcherPid(p: Prepared): number | undefined {
  let text = ''
  try {
    text = readFileSync(`${p.dir}/pid`, 'utf8')
  } catch {}
  return /^[1-9]\d*$/.test(text) ? Number(text) : undefined
}

/** A container never recorded (its launcher failed before it was ready): nothing for `delete`
 * to find, so its directory and groups go. */
function forget(p: Prepared): void {
  rmSync(p.dir, { recursive: true, force: true })
  removeCgroups(p.root, p.rec.cgroupDirs)
}
