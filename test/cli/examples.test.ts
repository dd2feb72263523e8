// The policies in examples/ are what the README's "Everyday use" points a new user to: each one
// validates, and does what its comment says on the real kernel (from a project directory, as
// the comments tell). The README's `policy diff` session is examples/debug.yaml's real output.
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { probeKernel } from '../../src/host/probe.js'
import { cordon, hasCommand, projectDir, ROOT } from '../helpers.js'

const EXAMPLES = join(ROOT, 'examples')
const timeout = 120_000

/** The `console` block the README marks `<!-- test: examples/NAME… -->`, without its fences. */
function readmeSession(name: string): string {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n')
  const at = lines.findIndex((l) => l.startsWith(`<!-- test: examples/${name}`))
  assert.ok(at >= 0 && lines[at + 1] === '```console', `README marks a session for examples/${name}`)
  return lines.slice(at + 2, lines.indexOf('```', at + 2)).join('\n')
}

describe('examples/', () => {
  test('every example policy validates and compiles here', { timeout }, () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'))
    assert.ok(files.length >= 3, files.join(' '))
    for (const f of files) {
      const r = cordon(['plan', '-p', join(EXAMPLES, f)], { timeout })
      assert.equal(r.status, 0, `${f}: ${r.stderr}`)
    }
  })

  test('dev.yaml in a project: the project is writable and /tmp runs what the run made', { timeout }, () => {
    const project = projectDir()
    copyFileSync(join(EXAMPLES, 'dev.yaml'), join(project, 'dev.yaml'))
    const script = 'cp /bin/true /tmp/t && /tmp/t && touch made'
    const r = cordon(['run', '-q', '-p', 'dev.yaml', '--', 'sh', '-c', script], { timeout })
    assert.equal(r.status, 0, r.stderr)
    assert.ok(existsSync(join(project, 'made')), 'the write reached the project')
    // The same under the default profile: /tmp is noexec (126), which is what dev.yaml changes.
    const plain = cordon(['run', '-q', '--', 'sh', '-c', 'cp /bin/true /tmp/t && /tmp/t'], { timeout })
    assert.equal(plain.status, 126, plain.stderr)
  })

  test('debug.yaml: the README shows what policy diff prints for it', { timeout }, () => {
    const [command, ...shown] = readmeSession('debug.yaml').split('\n')
    assert.equal(command, '$ cordon policy diff default examples/debug.yaml')
    const r = cordon(['policy', 'diff', 'default', join(EXAMPLES, 'debug.yaml')], { timeout })
    assert.equal(r.status, 1, r.stderr)
    // Half this host's memory is the default limit: the one line that differs between hosts.
    const hostMemory = (text: string) => text.replace(/memory: [\d.]+ \w+ →/, 'memory: HALF →').trimEnd()
    assert.equal(hostMemory(r.stdout), hostMemory(shown.join('\n')))
  })

  test(
    'debug.yaml lets strace trace inside the sandbox',
    { timeout, skip: !hasCommand('strace') && 'no strace' },
    () => {
      const args = ['-p', join(EXAMPLES, 'debug.yaml'), '--', 'strace', '-f', '-o', '/dev/null', 'true']
      const r = cordon(['run', '-q', ...args], { timeout })
      assert.equal(r.status, 0, r.stderr)
      const refused = cordon(['run', '-q', '--', 'strace', '-o', '/dev/null', 'true'], { timeout })
      assert.notEqual(refused.status, 0, 'the default profile refuses ptrace, which is why debug.yaml exists')
    },
  )

  const abi = probeKernel().landlock.abi
  test(
    'web.yaml: port 8080 binds, another port is refused',
    {
      timeout,
      skip:
        (abi < 4 && `Landlock ABI ${abi}: TCP port rules need ABI 4`) ||
        (!hasCommand('python3') && 'no python3'),
    },
    () => {
      const code = [
        'import socket',
        'socket.create_server(("127.0.0.1", 8080)); print("8080 bound")',
        'try: socket.create_server(("127.0.0.1", 8081))',
        'except PermissionError as e: print("8081", e.errno)',
      ].join('\n')
      const r = cordon(['run', '-q', '-p', join(EXAMPLES, 'web.yaml'), '--', 'python3', '-c', code], {
        timeout,
      })
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, '8080 bound\n8081 13\n')
    },
  )
})
