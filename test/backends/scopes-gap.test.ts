// With the host's network, runc has no layer for the abstract-socket scope: every host abstract
// socket (X11, D-Bus, other sandboxes') connects, which `cordon verify --backend runc` fails
// (abstract-unix), yet `run` started it with a warning (helper-141). It refuses, unless the
// policy acknowledges the gap. gVisor keeps UNIX sockets in its own kernel: it runs.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cordon, hasCommand, isRoot } from '../helpers.js'

test(
  'runc with the host network: refused unless acknowledged',
  { skip: hasCommand('runc') ? false : 'needs runc' },
  () => {
    const refused = cordon(['run', '-q', '--backend', 'runc', '--net', 'host', '--', 'true'])
    assert.equal(refused.status, 125, refused.stderr)
    assert.match(
      refused.stderr,
      /Refused: no layer enforces `scope abstract-unix-socket` on --backend runc .*--acknowledge abstract-sockets/,
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
      'abstract-sockets',
      '--',
      'true',
    ])
    assert.equal(accepted.status, 0, accepted.stderr)
  },
)

test(
  'gVisor with the host network: its own abstract sockets, so it runs',
  { skip: hasCommand('runsc') && isRoot ? false : 'needs runsc, as root' },
  () => {
    const r = cordon(['run', '-q', '--backend', 'gvisor', '--net', 'host', '--', 'true'])
    assert.equal(r.status, 0, r.stderr)
    const plan = cordon(['plan', '--backend', 'gvisor', '--net', 'host'])
    assert.match(plan.stdout + plan.stderr, /partial +scope abstract-unix-socket: unix sockets \(gVisor\)/)
  },
)
