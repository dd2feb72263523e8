// gVisor's stdin never reads ahead of the command: a loop around `cordon run --backend gvisor`
// keeps every line the command did not read, as it does unsandboxed and under cordon's launcher.
// The caller's pipe goes through the launcher's relay (`cordon-exec --stdin-relay`,
// native/stdio-relay.h); copied by Node's stream, it was read whole by the first run and the loop
// lost the rest. (runc in the foreground copies its stdin itself: README, Backends.)
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, constants, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CLI, hasCommand, isRoot, projectDir } from '../helpers.js'
import { launcherPath } from '../../src/host/launcher.js'

const why = (runtime: string) =>
  isRoot && (hasCommand(runtime) || process.env.CI)
    ? false
    : `needs root and ${runtime} (apt-get install ${runtime})`

/** Three runs in a `while read`-style loop over one pipe: each must read its own line. */
function loop(backend: string, cwd: string) {
  const run = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} run -q --backend ${backend} -- sh -c 'read x; echo "got $x"'`
  return spawnSync('sh', ['-c', `printf '1\\n2\\n3\\nrest\\n' | { ${run}; ${run}; ${run}; cat; }`], {
    cwd,
    encoding: 'utf8',
    timeout: 180_000,
    env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: '' },
  })
}

describe('the relay on its own', () => {
  test('the wrapped program reads only what it asks for; the rest stays in the pipe', () => {
    const r = spawnSync(
      'sh',
      [
        '-c',
        `printf 'x\\ny\\n' | { ${launcherPath()} --stdin-relay -- sh -c 'read l; echo "got $l"; exit 3'; echo "rc=$?"; cat; }`,
      ],
      { encoding: 'utf8' },
    )
    assert.equal(r.stdout, 'got x\nrc=3\ny\n')
  })

  test('it ends as the program did, by its signal', () => {
    const r = spawnSync(launcherPath(), ['--stdin-relay', '--', 'sh', '-c', 'kill -TERM $$'], {
      input: 'x\n',
    })
    assert.equal(r.status, null)
    assert.equal(r.signal, 'SIGTERM')
  })

  test('a signal still reaches the program once its input has ended', async (t) => {
    // A FIFO whose only writer has gone: the relay sees its end at once.
    const dir = mkdtempSync(join(tmpdir(), 'cordon-relay-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const fifo = join(dir, 'in')
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0)
    const input = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
    closeSync(openSync(fifo, constants.O_WRONLY))
    const child = spawn(launcherPath(), ['--stdin-relay', '--', 'sleep', '30'], {
      stdio: [input, 'ignore', 'ignore'],
    })
    closeSync(input)
    await new Promise((r) => setTimeout(r, 300))
    child.kill('SIGTERM')
    const guard = setTimeout(() => child.kill('SIGKILL'), 5000)
    const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)))
    clearTimeout(guard)
    assert.equal(signal, 'SIGTERM', 'the signal waited: the program was killed after 5 s')
  })

  test('it goes with its parent, and the program then sees the end of its input', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-relay-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const marker = join(dir, 'ended')
    // sh is the wrapper's parent (a SIGKILLed cordon): the program reads until its input ends.
    const parent = spawn(
      'sh',
      [
        '-c',
        `cat /dev/zero | ${launcherPath()} --stdin-relay -- sh -c 'cat >/dev/null; echo ended > ${marker}'`,
      ],
      { stdio: 'ignore' },
    )
    await new Promise((r) => setTimeout(r, 500))
    parent.kill('SIGKILL')
    for (let i = 0; i < 50 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100))
    spawnSync('pkill', ['-f', `echo ended > ${marker}`])
    assert.ok(
      existsSync(marker),
      "the program still read the caller's pipe 5 s after the wrapper's parent died",
    )
  })

  test('a missing program is 127, said on stderr', () => {
    const r = spawnSync('sh', ['-c', `echo | ${launcherPath()} --stdin-relay -- /nonexistent/program`], {
      encoding: 'utf8',
    })
    assert.equal(r.status, 127)
    assert.match(r.stderr, /\/nonexistent\/program: No such file or directory/)
  })
})

test('--backend gvisor: a loop over one pipe keeps every line', { skip: why('runsc') }, () => {
  const r = loop('gvisor', projectDir())
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, 'got 1\ngot 2\ngot 3\nrest\n', r.stderr)
})
