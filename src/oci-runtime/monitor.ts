// org.cordon.monitor: a supervisor beside a container that the engine, not cordon, parents.
// runc's model leaves no runtime process behind `create`, so each monitored container gets a
// detached pair: a shell watchdog (setsid, reparented to the engine's subreaper like the
// container) whose child is the Node supervisor (supervisor.ts). Lifetimes:
//   - `create`/`run` start it once the container is recorded; `start` waits until it watches;
//   - it ends by itself when the container's init ends (exit 0), and `delete` stops it first;
//   - if it dies any other way (a crash, the OOM killer), the watchdog kills every process of
//     the container and thaws the group: a monitored container never runs unwatched, and
//     never stays frozen with no one left to resolve it (as `cordon run`'s launcher does when
//     its supervisor goes).
// Alerts and the supervisor's notices are kept after delete in ROOT/monitor/ (0700), or where
// CORDON_OCI_MONITOR_DIR says.
import { mkdirSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { CordonError } from '../errors.js'
import { signalProcesses } from '../host/signal.js'
import { childProcess } from './child-process.js'
import { type ContainerRecord, containerDir, procStat } from './state.js'
import { MONITOR_ANNOTATION, monitorWanted } from './monitor-annotation.js'
import { policyDir } from './policy-dir.js'

export { MONITOR_ANNOTATION, monitorWanted }

/** Where a container's alerts (cordon's JSON lines) and supervisor notices are kept: ROOT/monitor,
 * or CORDON_OCI_MONITOR_DIR of the runtime's environment (the engine's admin sets it). */
export function monitorFiles(root: string, id: string) {
  const dir = process.env.CORDON_OCI_MONITOR_DIR ?? `${root}/monitor`
  return { dir, alerts: `${dir}/${id}.alerts.jsonl`, log: `${dir}/${id}.log` }
}

/** The supervisor's own pid and start time, written once it watches (supervisor.ts). */
export const readyFile = (root: string, id: string) => `${containerDir(root, id)}/monitor.ready`

// $0 = node, $1 = supervisor.js, then ROOT ID. Kill first, then thaw: a frozen v1 group holds
// SIGKILL until thawed, and thawing first would let a frozen fork storm run again. v2 has
// cgroup.kill, and no pid is read; a v1 group is frozen before its pids are read, so that no
// member can exit and have its pid handed to another process before root's kill reaches it
// (without a freezer, or before Linux 5.14 on v2, the pids are killed as read).
const WATCHDOG = `"$0" "$@"; s=$?
[ "$s" = 0 ] && exit 0
echo "cordon-oci: the supervisor of $3 ended (status $s): killing the container" >&2
case "$CORDON_OCI_FREEZER" in
*/freezer.state) echo FROZEN > "$CORDON_OCI_FREEZER"
  i=0; while [ $i -lt 100 ] && ! grep -q '^FROZEN' "$CORDON_OCI_FREEZER"; do sleep 0.01; i=$((i+1)); done ;;
esac
IFS=:
for d in $CORDON_OCI_GROUPS; do
  if [ -e "$d/cgroup.kill" ]; then echo 1 > "$d/cgroup.kill"
  elif [ -e "$d/cgroup.procs" ]; then
    while read -r p; do kill -9 "$p" 2>/dev/null; done < "$d/cgroup.procs"
  fi
done
if [ -e "$CORDON_OCI_FREEZER" ]; then
  case "$CORDON_OCI_FREEZER" in
  */freezer.state) echo THAWED > "$CORDON_OCI_FREEZER" ;;
  *) echo 0 > "$CORDON_OCI_FREEZER" ;;
  esac
fi
exit "$s"`

/** Starts the watchdog and its supervisor, detached from the runtime's stdio (the engine's
 * pipes of the container must see EOF when the container ends, not when the monitor does). */
export function startSupervisor(root: string, rec: ContainerRecord): void {
  const files = monitorFiles(root, rec.id)
  mkdirSync(files.dir, { recursive: true, mode: 0o700 })
  const log = openSync(files.log, 'a', 0o600)
  const supervisor = fileURLToPath(new URL('../oci-runtime/supervisor.js', import.meta.url))
  const freezer = rec.freezer
    ? `${rec.freezer.dir}/${rec.freezer.v2 ? 'cgroup.freeze' : 'freezer.state'}`
    : ''
  try {
    childProcess()
      .spawn('/bin/sh', ['-c', WATCHDOG, process.execPath, supervisor, root, rec.id], {
        detached: true,
        stdio: ['ignore', log, log],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          CORDON_OCI_POLICIES: policyDir(),
          ...(process.env.CORDON_OCI_MONITOR_DIR
            ? { CORDON_OCI_MONITOR_DIR: process.env.CORDON_OCI_MONITOR_DIR }
            : {}),
          CORDON_OCI_GROUPS: rec.cgroupDirs.join(':'),
          CORDON_OCI_FREEZER: freezer,
        },
      })
      .unref()
  } finally {
    closeSync(log)
  }
}

interface Ready {
  pid: number
  startTime: string
}

function readReady(root: string, id: string): Ready | undefined {
  try {
    return JSON.parse(readFileSync(readyFile(root, id), 'utf8')) as Ready
  } catch {
    return undefined
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** `start`: the container runs only once its supervisor watches it. */
export function awaitSupervisor(root: string, rec: ContainerRecord, timeoutMs = 20_000): void {
  if (!rec.annotations[MONITOR_ANNOTATION] || !monitorWanted(rec.annotations)) return
  const deadline = Date.now() + timeoutMs
  while (!existsSync(readyFile(root, rec.id))) {
    if (Date.now() > deadline)
      throw new CordonError(
        'setup_failed',
        `the monitor of container "${rec.id}" did not start within ${timeoutMs / 1000} s: see ${monitorFiles(root, rec.id).log}`,
      )
    sleep(10)
  }
}

/** `delete`: stops the supervisor (it exits 0, so its watchdog leaves the container alone) and
 * waits for it, so that it writes nothing after the container's directory is gone. */
export function stopSupervisor(root: string, id: string): void {
  const r = readReady(root, id)
  if (!r || procStat(r.pid)?.startTime !== r.startTime) return
  if (signalProcesses([{ pid: r.pid, startTime: Number(r.startTime) }], 'SIGTERM') === 0) return
  for (let i = 0; i < 400 && procStat(r.pid)?.startTime === r.startTime; i++) sleep(5)
}
