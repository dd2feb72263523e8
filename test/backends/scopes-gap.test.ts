// runc has no Landlock: the scopes hold there only through the namespace that stands in for
// each. With the host's network every host abstract socket (X11, D-Bus, other sandboxes')
// connects, which `cordon verify --backend runc` fails (abstract-unix), yet `run` started it with
// a warning (helper-141). Without a pid namespace (--no-namespaces) `kill -9 -1` reaches every
// process of its uid: every root-started cordon sandbox runs as the same first id of the range
// (helper-143). Each refuses, unless the policy acknowledges the gap (`scopes`); gVisor keeps
// UNIX sockets and processes in its own kernel, so it runs.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { CLI, cordon, hasCommand, isRoot, projectDir } from '../helpers.js'

const runc = hasCommand('runc') ? false : 'needs runc'

test('runc with the host network: refused unless acknowledged', { skip: runc }, () => {
  const refused = cordon(['run', '-q', '--backend', 'runc', '--net', 'host', '--', 'true'])
  assert.equal(refused.status, 125, refused.stderr)
  assert.match(
    refused.stderr,
    /Refused: no layer enforces `scope abstract-unix-socket` on --backend runc .*a network of its own .*--acknowledge scopes/,
  )
  const check = cordon(['check', '--backend', 'runc', '--net', 'host'])
  assert.notEqual(check.status, 0, 'check says run would refuse it')
  const accepted = cordon([
    'run',
    '-q',
    '--backend',
    'runc',
    '--net',
    'host',
    '--acknowledge',
    'scopes',
    '--',
    'true',
  ])
  assert.equal(accepted.status, 0, accepted.stderr)
})

test(
  'runc without namespaces: refused, and what the gap reaches is another sandbox',
  { skip: runc || (!isRoot && 'a root caller’s sandboxes share the range’s id') },
  async () => {
    const refused = cordon(['run', '-q', '--backend', 'runc', '--no-namespaces', '--', 'true'])
    assert.equal(refused.status, 125, refused.stderr)
    assert.match(
      refused.stderr,
      /Refused: no layer enforces `scope .*drop --no-namespaces.*--acknowledge scopes/,
    )
    // Accepted, the gap is real: a native sandbox of the same root caller dies of its kill.
    // Killed by its marked command alone: `kill -9 -1` would end every root-started sandbox of
    // the tests running beside this one.
    const marker = `60.${process.pid}`
    const victim = spawn(process.execPath, [CLI, 'run', '-q', '--', 'sleep', marker], {
      cwd: projectDir(),
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      stdio: 'ignore',
    })
    const ended = new Promise<number | null>((resolve) => victim.once('exit', (code) => resolve(code)))
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const killer = cordon([
        'run',
        '-q',
        '--backend',
        'runc',
        '--no-namespaces',
        '--acknowledge',
        'scopes',
        '--',
        'sh',
        '-c',
        `for p in /proc/[0-9]*; do [ "$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)" = "sleep ${marker} " ] && kill -9 \${p#/proc/}; done; true`,
      ])
      assert.equal(killer.status, 0, killer.stderr)
      assert.equal(await ended, 137, 'the other sandbox was killed: the gap the refusal names')
    } finally {
      victim.kill('SIGKILL')
    }
  },
)

test(
  'gVisor with the host network or without namespaces: its own sockets and processes, so it runs',
  { skip: hasCommand('runsc') && isRoot ? false : 'needs runsc, as root' },
  () => {
    for (const mode of [['--net', 'host'], ['--no-namespaces']]) {
      const r = cordon(['run', '-q', '--backend', 'gvisor', ...mode, '--', 'true'], { timeout: 120_000 })
      assert.equal(r.status, 0, `${mode.join(' ')}: ${r.stderr}`)
    }
    const plan = cordon(['plan', '--backend', 'gvisor', '--no-namespaces'])
    assert.match(plan.stdout + plan.stderr, /partial +scope abstract-unix-socket: unix sockets \(gVisor\)/)
    assert.match(plan.stdout + plan.stderr, /partial +scope signal: pid namespace \(gVisor\)/)
  },
)
