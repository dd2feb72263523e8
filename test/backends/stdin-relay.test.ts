// gVisor's stdin never reads ahead of the command: a loop around `cordon run --backend gvisor`
// keeps every line the command did not read, as it does unsandboxed and under cordon's launcher.
// The caller's pipe goes through the launcher's relay (`cordon-exec --stdin-relay`,
// native/stdio-relay.h); copied by Node's stream, it was read whole by the first run and the loop
// lost the rest. (runc in the foreground copies its stdin itself: README, Backends.)
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { CLI, isRoot, projectDir } from '../helpers.js'
import { launcherPath } from '../../src/host/launcher.js'

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const why = (runtime: string) =>
  isRoot && (has(runtime) || process.env.CI)
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
