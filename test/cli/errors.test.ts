// Bad input gets one clear error naming the flag or field and the fix: never a stack trace,
// never "internal error".
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, test } from 'node:test'
import { cordon, isRoot, projectDir } from '../helpers.js'

function refused(args: string[], status: number, pattern: RegExp): void {
  const r = cordon(args, { cwd: projectDir() })
  assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`)
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, r.stderr)
  assert.match(r.stderr, pattern)
}

describe('errors on bad input', () => {
  test('output paths in missing directories', () => {
    refused(
      ['compile', '-o', '/nonexistent/dir/x.plan', '--', 'true'],
      2,
      /cannot write \/nonexistent\/dir\/x\.plan: the directory \/nonexistent\/dir does not exist; .*mkdir -p \/nonexistent\/dir/,
    )
    refused(
      ['report', '--html', '-o', '/nonexistent/r.html'],
      2,
      /cannot write \/nonexistent\/r\.html: the directory \/nonexistent does not exist; .*mkdir -p \/nonexistent/,
    )
    refused(
      ['export', '--to', 'docker', '-o', '/nonexistent/a/b', '--', 'true'],
      2,
      /-o \/nonexistent\/a\/b: \/nonexistent\/a does not exist/,
    )
    // These two used to create the missing directories silently.
    refused(
      ['seccomp', 'compile', '-o', '/nonexistent/d/x.bpf'],
      2,
      /cannot write \/nonexistent\/d\/x\.bpf: the directory \/nonexistent\/d does not exist; .*mkdir -p \/nonexistent\/d/,
    )
    refused(
      ['run', '--quiet', '--alert', 'file:/nonexistent/d/a.log', '--', 'true'],
      125,
      /--alert file: \/nonexistent\/d\/a\.log: cannot open it \(ENOENT\); give a path in a directory you can write/,
    )
    assert.ok(!existsSync('/nonexistent'), 'no directory was made on the way')
  })

  test('cpusets the kernel or the syntax refuses', { skip: !isRoot && 'cgroups need root here' }, () => {
    refused(
      ['run', '--cpuset', '99', '--', 'true'],
      125,
      /limits\.cpuset \(--cpuset\) 99: the kernel refused it \(ERANGE\); this host's CPUs are [\d,-]+/,
    )
  })

  test('a descending cpuset range is said of its flag, one line per problem', () => {
    const r = cordon(['run', '--cpuset', '5-3', '--', 'true'], { cwd: projectDir() })
    assert.equal(r.status, 125)
    assert.match(r.stderr, /^cordon: --cpuset: `5-3` .* descending range: write it low-high \(3-5\)\n$/)
  })

  test("a flag's bad value is said of the flag, not of the policy field it fills", () => {
    const one = cordon(['run', '--memory', 'lots', '--', 'true'], { cwd: projectDir() })
    assert.equal(one.status, 125)
    assert.match(one.stderr, /^cordon: --memory: expected a size like "512M" .* got `lots`\n$/)
    const two = cordon(['run', '--timeout', 'soon', '--net', 'bogus', '--', 'true'], { cwd: projectDir() })
    assert.equal(two.status, 125)
    assert.match(two.stderr, /^cordon: Invalid flags \(2 problems\):\n/)
    assert.match(two.stderr, /^cordon: +--net: expected one of `none`, `loopback`, `host`, got `bogus`/m)
    assert.match(two.stderr, /^cordon: +--timeout: expected a duration: .* got `soon`$/m)
    assert.doesNotMatch(two.stderr, /limits\.|network`/)
    const compiled = cordon(['compile', '--rw', '', '-o', '/nonexistent/p.plan'], { cwd: projectDir() })
    assert.equal(compiled.status, 2)
    assert.match(compiled.stderr, /^cordon: --rw: the path is empty\n$/)
  })

  test('--metrics: a bad address or a busy port', async () => {
    refused(
      ['run', '--metrics', 'nonsense', '--', 'true'],
      125,
      /--metrics nonsense: expected HOST:PORT, :PORT or PORT/,
    )
    const server = createServer()
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const port = (server.address() as { port: number }).port
      refused(
        ['run', '--metrics', `127.0.0.1:${port}`, '--', 'true'],
        125,
        /the port is in use; pick another, or :0/,
      )
      refused(
        ['run', '--metrics-linger', '5x', '--metrics', ':0', '--', 'true'],
        125,
        /--metrics-linger 5x: expected a duration/,
      )
    } finally {
      server.close()
    }
  })

  test('limits: nonsense refused with units, beyond-host values warned', () => {
    const policyError = (flag: string, value: string, pattern: RegExp) =>
      refused(['run', flag, value, '--', 'true'], 125, pattern)
    policyError('--memory', '-1', /--memory: expected a size like "512M" or "1\.5G"/)
    policyError('--memory', '0', /--memory: `0` is 0 bytes: a sandbox needs at least 1M/)
    policyError('--memory', '1', /at least 1M to start/)
    policyError('--pids', '1', /--pids: expected an integer from 2/)
    policyError('--cpus', '-2', /--cpus: expected a number of CPUs of at least 0\.01/)
    policyError('--timeout', '10x', /expected a duration: a positive number with ms, s, m, h or d/)
    policyError('--timeout', '30d', /longer than a timer can wait/)
    const ok = cordon(['run', '--memory', '1.5G', '--timeout', '1d', '--', 'true'], { cwd: projectDir() })
    assert.equal(ok.status, 0, ok.stderr)
    // A bare number is seconds, as timeout(1) takes it.
    const bare = cordon(['run', '--timeout', '0.5', '--', 'sleep', '20'], { cwd: projectDir() })
    assert.match(bare.stderr, /timed out after 500 ms: the whole sandbox was killed/)
    policyError('--timeout', '0', /expected a duration: a positive number .* got `0`/)
    const wide = cordon(['run', '--memory', '100T', '--cpus', '1000', '--', 'true'], { cwd: projectDir() })
    assert.equal(wide.status, 0, wide.stderr)
    assert.match(
      wide.stderr,
      /warning: limits: memory 102400 GiB is more than this host has .* limits nothing here/,
    )
    assert.match(wide.stderr, /warning: limits: cpus 1000 is more than this host has/)
  })

  test("exit status for bad input: 125 where the status is otherwise the program's, else 2", () => {
    for (const [args, status] of [
      [['run', '--nosuch', '--', 'true'], 125],
      [['learn', '--nosuch', '--', 'true'], 125],
      [['run', '--pids', '1', '--', 'true'], 125],
      [['compile', '--pids', '1', '--', 'true'], 2],
      [['verify', '--nosuch'], 2],
      [['export', '--to', 'nosuch', '--', 'true'], 2],
      [['ps', '--nosuch'], 2],
      // What the caller named and cordon did not find is bad input too (helper-113: 125 here,
      // while `policy diff` and `kill` said 2); a part of cordon's own build missing is 125.
      [['run', '-p', 'nope.yaml', '--', 'true'], 125],
      [['verify', 'nope.yaml'], 2],
      [['plan', 'nope.yaml'], 2],
      [['report', 'nope.yaml'], 2],
      [['export', '--to', 'docker', 'nope.yaml', '--', 'true'], 2],
      [['policy', 'diff', 'default', 'nope.yaml'], 2],
      [['plan', '--profile', 'nosuch'], 2],
      [['monitor', 'nosuch'], 2],
      [['kill', 'nosuch'], 2],
    ] as const) {
      const r = cordon([...args], { cwd: projectDir() })
      assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`)
      assert.doesNotMatch(r.stderr, /internal error/)
    }
    const noLauncher = cordon(['verify'], {
      cwd: projectDir(),
      env: { CORDON_LAUNCHER: '/nonexistent/cordon-exec' },
    })
    assert.equal(noLauncher.status, 125, noLauncher.stderr)
    assert.match(noLauncher.stderr, /The launcher \/nonexistent\/cordon-exec is missing; build it/)
  })

  test('--quiet drops warnings, not errors', () => {
    const loud = cordon(['run', '--memory', '100T', '--', 'true'], { cwd: projectDir() })
    assert.match(loud.stderr, /warning: limits/)
    const quiet = cordon(['run', '-q', '--memory', '100T', '--', 'true'], { cwd: projectDir() })
    assert.equal(quiet.status, 0)
    assert.doesNotMatch(quiet.stderr, /warning/)
    const failing = cordon(['run', '--quiet', '--', '/nonexistent'], { cwd: projectDir() })
    assert.equal(failing.status, 127)
    assert.match(failing.stderr, /exec .*failed/)
  })

  test('freeze, thaw and kill have --help', () => {
    for (const verb of ['freeze', 'thaw', 'kill']) {
      const r = cordon([verb, '--help'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`^Usage: cordon ${verb} (\\[-q\\] )?ID`))
    }
  })
})
