// `cordon run` exits as soon as the run is over (bin/cordon.cjs), without Node's teardown. What
// it still has to say must get out first: on a pipe, process.stderr writes what the pipe cannot
// take at once later, from the event loop (libuv makes the pipe non-blocking), and exit() would
// drop it. Seen with a reader that reads only after cordon has ended, a stderr pipe that is
// full when cordon writes, and made non-blocking beforehand: by whoever opened it, or by
// cordon's own alert stream (--monitor builds process.stderr).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { projectDir, ROOT } from '../helpers.js'

const CLI = join(ROOT, 'bin', 'cordon.cjs')

const hasPython = spawnSync('python3', ['-c', '']).status === 0

/** A parent that makes fd 2 non-blocking and fills it, then execs argv[1:] (no libuv there:
 * a Node parent makes a child's stdio blocking again as it starts it). */
const FILL = `import fcntl, os, sys
fcntl.fcntl(2, fcntl.F_SETFL, fcntl.fcntl(2, fcntl.F_GETFL) | os.O_NONBLOCK)
try:
    while True: os.write(2, b'.' * 4096)
except BlockingIOError: pass
os.execvp(sys.argv[1], sys.argv[1:])`

/** Runs `cordon ARGS` with stderr to a pipe read once cordon has ended, or after 5 s (a cordon
 * that waits for its reader, as it should, ends then): what came (the filler dots and NULs left
 * out). `fill` first fills that pipe, left non-blocking. */
function slowStderr(args: string[], fill: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-exit-'))
  try {
    const done = join(dir, 'done')
    const argv = [...(fill ? ['python3', '-c', FILL] : []), process.execPath, CLI, ...args]
    const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
    const r = spawnSync(
      'sh',
      [
        '-c',
        `{ ${quoted} 2>&1 >/dev/null; touch '${done}'; } | { n=0; until [ -e '${done}' ] || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done; tr -d '.\\000'; }`,
      ],
      {
        cwd: projectDir(),
        encoding: 'utf8',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        timeout: 60_000,
      },
    )
    return r.stdout
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test(
  'an error said to a full, non-blocking stderr pipe reaches its slow reader',
  { skip: hasPython ? false : 'needs python3 to make a non-blocking pipe without libuv' },
  () => {
    const text = slowStderr(['run', '--no-such-flag', '--', 'true'], true)
    assert.match(text, /cordon: .*no-such-flag/)
  },
)

test('the last warning of a run reaches a slow reader after cordon made stderr non-blocking', () => {
  // --monitor builds process.stderr for its alerts; the command fills the pipe, and cordon's
  // "timed out" line comes after.
  const text = slowStderr(
    [
      'run',
      '--profile',
      'minimal',
      '--monitor',
      '--timeout',
      '1s',
      '--',
      'sh',
      '-c',
      'head -c 70000 /dev/zero >&2; sleep 5',
    ],
    false,
  )
  assert.match(text, /cordon: timed out after 1000 ms/)
})
