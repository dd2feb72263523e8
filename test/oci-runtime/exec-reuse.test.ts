// `cordon-oci exec` checks that the container's init is the recorded process (pid and start
// time), then the launcher opens its /proc/PID/ns/* and root. If the init ended in between and
// its pid went to another process, the launcher joined that process's namespaces: here a host
// process, so the "exec" ran in the host's namespaces with the container's cgroup and filters.
// The launcher now gets a directory fd on the checked process's /proc entry, through which no
// later owner of the pid can be reached. The window is made certain by a launcher wrapper that
// kills the init and hands its pid to a host process before it starts the real launcher.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { LAUNCHER } from '../helpers.js'
import { CORDON_OCI, makeBundle, oci, ociSkip } from './bundle.js'

// Kills the init ($REUSE_PID), takes its pid for a host `sleep` (ns_last_pid is the last pid
// handed out), records it, then runs the real launcher with the arguments and fds it was given.
const WRAPPER = `#!/bin/sh
pid=$REUSE_PID
kill -9 "$pid"
i=0; while [ -e "/proc/$pid" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
n=0; while [ $n -lt 200 ]; do
  echo $((pid - 1)) > /proc/sys/kernel/ns_last_pid
  sleep 120 &
  [ "$!" = "$pid" ] && break
  kill "$!"; n=$((n+1))
done
echo "$!" > "$REUSE_OUT"
exec "$REUSE_LAUNCHER" "$@"
`

test(
  'exec never joins a process that took the pid of the container’s init',
  { skip: ociSkip(), timeout: 120_000 },
  (t) => {
    const b = makeBundle(['sleep', '120'])
    const id = `exec-reuse-${process.pid}`
    t.after(() => b.cleanup())
    const r = oci(b, ['run', '-d', id])
    assert.equal(r.status, 0, r.stderr)
    const pid = (JSON.parse(oci(b, ['state', id]).stdout) as { pid: number }).pid
    const wrapper = join(b.dir, 'launcher-wrapper')
    const out = join(b.dir, 'reused')
    writeFileSync(wrapper, WRAPPER)
    chmodSync(wrapper, 0o755)
    const e = spawnSync(
      CORDON_OCI,
      ['--root', b.root, 'exec', id, 'sh', '-c', 'readlink /proc/self/ns/mnt'],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: '',
          CORDON_LAUNCHER: wrapper,
          REUSE_LAUNCHER: process.env.CORDON_LAUNCHER ?? LAUNCHER,
          REUSE_PID: String(pid),
          REUSE_OUT: out,
        },
      },
    )
    const taker = Number(readFileSync(out, 'utf8'))
    t.after(() => {
      try {
        process.kill(taker, 'SIGKILL')
      } catch {}
    })
    if (taker !== pid) return t.skip(`the pid ${pid} could not be handed to another process (busy host)`)
    assert.notEqual(
      e.stdout.trim(),
      readlinkSync('/proc/self/ns/mnt'),
      'the exec ran in the host’s namespaces',
    )
    assert.notEqual(e.status, 0, e.stdout)
    assert.match(e.stderr, /join namespace \/proc\/self\/fd\/\d+\/ns\/\w+/)
  },
)
