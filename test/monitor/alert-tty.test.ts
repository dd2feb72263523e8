// The stderr alert sink colours an alert's priority for a person at a terminal, and writes plain
// text to a pipe or a file. It asks whether fd 2 is a terminal at its first alert (node:tty loads
// node:net, which a monitored run no longer loads before its sandbox starts), so the answer must
// still be right then: seen here through a real pseudo-terminal (script(1)) and a pipe.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { projectDir, ROOT } from '../helpers.js'

const CLI = join(ROOT, 'bin', 'cordon.cjs')
const hasScript = spawnSync('sh', ['-c', 'command -v script']).status === 0
const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
delete env.NO_COLOR
// unshare(2) is refused in the sandbox, and the default rules alert on the attempt.
const argv = [
  process.execPath,
  CLI,
  'run',
  '-q',
  '--monitor',
  '--profile',
  'minimal',
  '--',
  'sh',
  '-c',
  // The pause keeps the run (and the terminal raw) past the alert.
  'unshare -U true; sleep 0.5',
]
const quoted = argv.map((a) => `'${a}'`).join(' ')

test('an alert to a terminal is coloured', { skip: !hasScript && 'script(1) is not installed' }, () => {
  const r = spawnSync('script', ['-qec', quoted, '/dev/null'], {
    cwd: projectDir(),
    env,
    encoding: 'utf8',
    timeout: 60_000,
  })
  const line = r.stdout.split('\n').find((l) => l.includes('escape-attempt'))
  assert.ok(line, `an alert on the terminal: ${r.stdout}${r.stderr}`)
  assert.ok(line.includes('\u001b[31m[error]\u001b[0m escape-attempt'), JSON.stringify(line))
  // The sandbox has a console here, and the launcher holds this terminal raw while it runs: no
  // LF becomes CR LF on the way out, so cordon's line ends in CR LF itself, or the next line
  // starts where this one ended (a staircase across the screen).
  assert.ok(line.endsWith('\r'), `the alert's line ends in CR LF: ${JSON.stringify(line)}`)
})

test('an alert to a pipe is plain text', () => {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd: projectDir(), env, encoding: 'utf8', timeout: 60_000 })
  const line = r.stderr.split('\n').find((l) => l.includes('escape-attempt'))
  assert.ok(line, `an alert on stderr: ${r.stderr}`)
  assert.match(line, /^cordon: \[error\] escape-attempt/)
  assert.ok(!r.stderr.includes('\u001b['), JSON.stringify(r.stderr))
})
