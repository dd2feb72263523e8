// Messages for a new user's mistakes (issue 20, finding 11): each names the flag or field and
// the fix, with file:line:col where a file is involved, every problem listed in file order.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { CLI, cordon, projectDir } from '../helpers.js'

after(() => rmSync(projectDir(), { recursive: true, force: true }))

const timeout = 60_000

function policyFile(name: string, text: string): string {
  const file = join(projectDir(), name)
  writeFileSync(file, text)
  return file
}

describe('run: what a flag or command got wrong', () => {
  test('a start the descriptor limit refuses is an error that says so, never a silent 0', { timeout }, () => {
    // Where the limit bites depends on how many descriptors this Node opens before cordon's
    // code runs, so every limit from Node's own floor up to a working one is tried: whichever
    // step runs out, a run that exits 0 has run its command. (The launcher's start was
    // refused EMFILE and the run command waited on events that never came: Node exited 0.)
    // Whatever ran out, cordon's own refusal is one line that names the limit (helper-114: a
    // socketpair "file" named as bad input, "run npm run build"). Below ~19 Node itself fails.
    for (const command of ['run', 'learn']) {
      const extra = command === 'learn' ? ['-o', join(projectDir(), 'fd-limit.yaml')] : []
      for (let limit = 17; limit <= 48; limit++) {
        const r = spawnSync(
          'sh',
          [
            '-c',
            `ulimit -n ${limit} && exec "$0" "$@" -- sh -c 'echo ran'`,
            process.execPath,
            CLI,
            command,
            ...extra,
          ],
          { encoding: 'utf8', cwd: projectDir(), env: { ...process.env, NODE_EXTRA_CA_CERTS: '' }, timeout },
        )
        const at = `${command}, ulimit -n ${limit}`
        if (r.status === 0) {
          assert.equal(r.stdout, 'ran\n', `${at}: exit 0 without the command's output`)
          break
        }
        assert.notEqual(r.stdout, 'ran\n', `${at}: the command ran, yet exit ${r.status}`)
        if (r.status === 125) {
          assert.match(
            r.stderr,
            /^cordon: [^\n]*too many open files[^\n]*raise the limit, e.g. `ulimit -n 1024`/m,
            at,
          )
          assert.doesNotMatch(r.stderr, /\n\s+at /, at)
        }
      }
    }
  })

  test('a working directory removed under the caller is one line, not a stack trace', { timeout }, () => {
    // helper-114: process.cwd() threw ENOENT (uv_cwd), an internal error with a stack.
    for (const args of [['run', '--', 'true'], ['plan']]) {
      const r = spawnSync(
        'sh',
        ['-c', 'mkdir gone && cd gone && rmdir ../gone && exec "$0" "$@"', process.execPath, CLI, ...args],
        { encoding: 'utf8', cwd: projectDir(), env: { ...process.env, NODE_EXTRA_CA_CERTS: '' }, timeout },
      )
      assert.equal(r.status, args[0] === 'run' ? 125 : 2, r.stderr)
      assert.equal(r.stderr, 'cordon: the current directory no longer exists; cd into one that does\n')
    }
  })

  test('an --env value past 4 KiB reaches the command whole', { timeout }, () => {
    // helper-114: refused by the plan's 4096-byte string bound, echoing the value (a token).
    const r = cordon(['run', '-q', '--env', `T=${'x'.repeat(20_000)}`, '--', 'sh', '-c', 'echo ${#T}'], {
      timeout,
    })
    assert.equal(r.status, 0, r.stderr.slice(0, 300))
    assert.equal(r.stdout, '20000\n')
  })

  test('a directory as the command says so', { timeout }, () => {
    const r = cordon(['run', '--', '/usr'], { timeout })
    assert.equal(r.status, 126)
    assert.match(r.stderr, /exec \/usr failed: command is a directory, not a program/)
  })

  test('a file bound onto a directory says which side to change, not EINVAL', { timeout }, () => {
    const r = cordon(['run', '--ro', '/etc/passwd:/usr/bin', '--', 'true'], { timeout })
    assert.equal(r.status, 125)
    assert.match(r.stderr, /the source is a file and the destination a directory in the view/)
    assert.doesNotMatch(r.stderr, /invalid argument/)
    const back = cordon(['run', '--ro', '/usr/share:/etc/hostname', '--', 'true'], { timeout })
    assert.equal(back.status, 125)
    assert.match(back.stderr, /the source is a directory and the destination a file/)
  })

  test('a missing --rw source says what to do with a flag, not `optional: true`', { timeout }, () => {
    const r = cordon(['run', '--rw', './missing', '--', 'true'], { timeout })
    assert.equal(r.status, 125)
    assert.match(
      r.stderr,
      /--rw \.\/missing: \S+\/missing does not exist; create it first \(mkdir -p \S+ for a directory, touch \S+ for a file\)/,
    )
    assert.doesNotMatch(r.stderr, /optional/)
    const ro = cordon(['run', '--ro', '/nonexistent-cordon:/x', '--', 'true'], { timeout })
    assert.match(ro.stderr, /--ro \/nonexistent-cordon:\/x: \/nonexistent-cordon does not exist/)
  })

  test('a relative --cwd is taken from the caller’s directory', { timeout }, () => {
    mkdirSync(join(projectDir(), 'sub'), { recursive: true })
    const r = cordon(['run', '--cwd', 'sub', '--', 'pwd'], { timeout })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, `${join(projectDir(), 'sub')}\n`)
  })

  test('a working directory that is not UTF-8 passes through byte-exact', { timeout }, (t) => {
    const dir = Buffer.concat([Buffer.from(`${projectDir()}/x`), Buffer.from([0xff]), Buffer.from('y')])
    mkdirSync(dir, { recursive: true })
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(Buffer.concat([dir, Buffer.from('/f')]), 'in the odd dir\n')
    // spawn's cwd takes a string only: the shell changes into the bytes.
    const r = spawnSync(
      'sh',
      [
        '-c',
        `cd "$(printf '%s/x\\377y' "$1")" && exec "$2" "$3" run -- sh -c 'pwd; cat f'`,
        'sh',
        projectDir(),
        process.execPath,
        CLI,
      ],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: '' }, timeout },
    )
    assert.equal(r.status, 0, String(r.stderr))
    assert.deepEqual(r.stdout, Buffer.concat([dir, Buffer.from('\nin the odd dir\n')]))
  })
})

describe('policy files: every problem, located, in file order', () => {
  test('an empty policy file says it is empty', { timeout }, () => {
    for (const [name, text] of [
      ['empty.yaml', ''],
      ['comments.yaml', '# nothing yet\n'],
      ['blank.json', '\n'],
    ] as const) {
      const r = cordon(['plan', '-p', policyFile(name, text)], { timeout })
      assert.equal(r.status, 2)
      assert.match(r.stderr, new RegExp(`${name} is empty; write at least \`extends: \\[default\\]\``))
      assert.doesNotMatch(r.stderr, /undefined/)
    }
  })

  test('one problem is counted as one', { timeout }, () => {
    const r = cordon(['plan', '-p', policyFile('one.yaml', 'version: 1\nnetwork: lan\n')], { timeout })
    assert.match(r.stderr, /Invalid policy \(1 problem\):/)
  })

  test('unknown syscall, errno and capability carry file:line:col, in file order', { timeout }, () => {
    const file = policyFile(
      'semantic.yaml',
      [
        'version: 1',
        'netwrk: none',
        'capabilities: [net_bind_servce]',
        'seccomp:',
        '  default: errno(EFOO)',
        '  rules:',
        '    - action: errno(EBAR)',
        '      syscalls: [ptrce, "@mounts"]',
        '',
      ].join('\n'),
    )
    const r = cordon(['plan', '-p', file], { timeout })
    assert.equal(r.status, 2)
    const located = r.stderr
      .split('\n')
      .filter((l) => l.includes(`${file}:`))
      .map((l) => l.replace(/^cordon: +/, ''))
    assert.match(r.stderr, /Invalid policy \(6 problems\):/)
    const want = [
      [2, 1, /Unknown key `netwrk`.*did you mean `network`/],
      [3, 16, /unknown capability `net_bind_servce`; did you mean `net_bind_service`/],
      [5, 12, /unknown errno `EFOO`/],
      [7, 15, /unknown errno `EBAR`/],
      [8, 18, /unknown syscall `ptrce`; did you mean `ptrace`/],
      [8, 25, /unknown syscall group `@mounts`; did you mean `@mount`/],
    ] as const
    assert.equal(located.length, want.length, r.stderr)
    want.forEach(([line, col, message], i) => {
      assert.ok(located[i]!.startsWith(`${file}:${line}:${col}: `), `${located[i]} (want ${line}:${col})`)
      assert.match(located[i]!, message)
    })
  })
})

describe('rules files: every problem, located, in file order', () => {
  test('two rules with mistakes (and a misspelt section) are all reported', { timeout }, () => {
    const file = policyFile(
      'rules.yaml',
      [
        'rules:',
        '  - rule: a',
        '    when: event = oom',
        '    thne: alert',
        '  - rule: b',
        '    when: syscall = clon',
        'macro:',
        '  x: y',
        '',
      ].join('\n'),
    )
    const r = cordon(['run', '--rules', file, '--', 'true'], { timeout })
    assert.equal(r.status, 125)
    assert.match(r.stderr, /Invalid rules \(3 problems\):/)
    const located = r.stderr.split('\n').filter((l) => l.includes(`${file}:`))
    assert.equal(located.length, 3, r.stderr)
    assert.match(located[0]!, /rules\.yaml:4:5: rules\[0\]\.thne: unknown key; did you mean `then`\?/)
    assert.match(
      located[1]!,
      /rules\.yaml:6:11: rule b\.when: unknown syscall `clon`; did you mean `clone`\?/,
    )
    assert.match(located[2]!, /rules\.yaml:7:1: macro: unknown section; did you mean `macros`\?/)
  })
})

describe('did you mean, for rule fields', () => {
  test('a misspelt field, action, priority or baseline key gets the near name', { timeout }, () => {
    const file = policyFile(
      'near.yaml',
      [
        'rules:',
        '  - rule: a',
        '    when: syscal = clone',
        '  - rule: b',
        '    when: event = oom',
        '    then: [frezee]',
        '  - rule: c',
        '    when: event = oom',
        '    priority: warnng',
        '  - rule: d',
        '    when: syscall = clone',
        '    baseline: { windw: 1s }',
        '',
      ].join('\n'),
    )
    const r = cordon(['run', '--rules', file, '--', 'true'], { timeout })
    assert.equal(r.status, 125)
    assert.match(r.stderr, /Invalid rules \(4 problems\)/)
    assert.match(r.stderr, /near\.yaml:3:11: rule a\.when: unknown field `syscal`; did you mean `syscall`\?/)
    assert.match(r.stderr, /near\.yaml:6:11: rule b\.then: unknown action `frezee`; did you mean `freeze`\?/)
    assert.match(
      r.stderr,
      /near\.yaml:9:15: rule c\.priority: unknown priority `warnng`; did you mean `warning`\?/,
    )
    assert.match(r.stderr, /near\.yaml:12:\d+: rule d\.baseline\.windw: unknown key; did you mean `window`\?/)
  })
})

// What a newcomer met (helper-134): each mistake names the fix that works.
describe('a newcomer’s near misses', () => {
  test('--env NAME names --pass-env, a syscall given as the policy names seccomp test', { timeout }, () => {
    const env = cordon(['run', '--env', 'FOO', '--', 'true'], { timeout })
    assert.equal(env.status, 125)
    assert.match(
      env.stderr,
      /--env expects NAME=VALUE, got `FOO` \(to copy this environment's FOO: --pass-env FOO\)/,
    )
    const syscall = cordon(['seccomp', 'explain', 'ptrace'], { cwd: projectDir(), timeout })
    assert.equal(syscall.status, 2)
    assert.match(
      syscall.stderr,
      /`ptrace` is a syscall, not a policy file: `cordon seccomp test --syscall ptrace`/,
    )
  })

  test('a list of entries reads as one', { timeout }, () => {
    const r = cordon(['plan', '-p', policyFile('list.yaml', 'filesystem: 3\n')], { timeout })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /Expected `filesystem` to be a list, each item a mapping with one of `ro`, `rw`/)
    assert.doesNotMatch(r.stderr, /`mkdir`s/)
  })
})
