// A profile's bind of the working directory (`ro: .`) never shows a directory that holds other
// programs' files and sockets: run from /tmp, the default profile bound the host's /tmp read-only,
// and a read-only bind still lets connect() reach a socket in it (a tmux or ssh-agent socket is a
// shell outside the sandbox). The CLI refuses such a directory; resolution leaves the bind out
// with a warning, for the library and verify.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { resolvePolicy, run } from '../../src/index.js'
import { sharedDirectoryAt } from '../../src/policy/resolve.js'
import { cordon } from '../helpers.js'

const withDefault = (cwd: string) =>
  resolvePolicy({ policy: { extends: ['default'] }, baseDir: cwd, label: 'test' }, cwd)

describe('a shared working directory is not shown by a profile', () => {
  test('shared directories, and those above them, are recognised; projects are not', () => {
    for (const d of [
      '/',
      '/tmp',
      '/var/tmp',
      '/dev/shm',
      '/run',
      '/run/user/1000',
      '/home',
      '/root',
      homedir(),
      '/var',
    ])
      assert.ok(sharedDirectoryAt(d), d)
    for (const d of ['/tmp/project', '/home/alice/src/app', '/srv/app', '/work/main', '/run/user/1000/x/y'])
      assert.equal(sharedDirectoryAt(d), undefined, d)
  })

  test('resolution leaves out the bind of /tmp and says why', () => {
    const p = withDefault('/tmp')
    assert.ok(!p.filesystem.some((e) => e.kind === 'bind' && e.src === '/tmp'), JSON.stringify(p.filesystem))
    assert.ok(
      p.warnings?.some((w) => /working directory \/tmp is not shown/.test(w)),
      String(p.warnings),
    )
  })

  test('an explicit bind of /tmp is the caller’s choice and stays', () => {
    const p = resolvePolicy(
      { policy: { extends: ['default'], filesystem: [{ ro: '/tmp' }] }, baseDir: '/', label: 'x' },
      '/srv',
    )
    assert.ok(p.filesystem.some((e) => e.kind === 'bind' && e.src === '/tmp'))
  })

  test('cordon run from /tmp refuses with what to do', () => {
    const r = cordon(['run', '--', 'true'], { cwd: '/tmp' })
    assert.equal(r.status, 125, r.stderr)
    assert.match(
      r.stderr,
      /that is \/tmp, which holds other programs' files and sockets; cd into a project directory/,
    )
  })

  // A newcomer's library run from /tmp heard nothing of it (the warning stayed in the plan's
  // notes), and `pwd` said /tmp: the sandbox's own empty tmpfs, passing for the caller's /tmp.
  test('a library run from /tmp hears the warning as an event and starts in /, as it says', async () => {
    const r = await run({ extends: ['default'] }, 'pwd', [], { cwd: '/tmp' })
    assert.equal(r.stdout, '/\n')
    const warnings = r.events.filter((e) => e.event === 'warning' && e.step === 'policy')
    assert.equal(warnings.length, 1, JSON.stringify(r.events))
    assert.match(JSON.stringify(warnings[0]), /working directory \/tmp is not shown to the sandbox/)
    assert.equal(r.events[0]?.event, 'warning', 'the first of the sandbox’s events')
    // A policy's own `cwd:` still wins.
    const own = await run({ extends: ['default'], cwd: '/usr' }, 'pwd', [], { cwd: '/tmp' })
    assert.equal(own.stdout, '/usr\n')
  })

  describe('the kernel: a host socket in /tmp is out of reach of a library run from /tmp', () => {
    const dir = mkdtempSync('/tmp/cordon-test-sock-')
    const path = join(dir, 'agent.sock')
    let server: Server
    after(() => {
      server?.close()
      rmSync(dir, { recursive: true, force: true })
    })
    test('connect fails', async () => {
      server = createServer((s) => s.end('reached\n'))
      await new Promise<void>((done) => server.listen(path, done))
      const script = `import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(${JSON.stringify(path)}); print("reached")\nexcept OSError as e:\n print("refused", e.errno)`
      const r = await run(withDefault('/tmp'), '/usr/bin/python3', ['-c', script], { reject: false })
      assert.match(r.stdout, /^refused \d+$/m, r.stdout + r.stderr)
    })
  })
})
