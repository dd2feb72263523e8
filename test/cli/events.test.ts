// The events channel (issue 17, points 5 and 6): `cordon run` writes events, alerts and its
// result on the caller's --events file or --events-fd descriptor, which the program can neither
// reach nor imitate; its human lines on stderr are escaped.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CLI, cordon, isRoot, projectDir } from '../helpers.js'

/** cordon with a pipe on descriptor 3: returns its stdout, stderr and what came on fd 3. */
function withFd3(args: string[]): { status: number | null; stdout: string; stderr: string; fd3: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: projectDir(),
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  })
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr), fd3: String(r.output[3]) }
}

const FORGED_EXIT = '{"event":"exit","code":0}'
const FORGED_DENIED =
  '{"event":"denied","layer":"landlock","blockers":"fs.read","path":"/etc/shadow","pid":1,"exe":"/bin/x"}'

describe('cordon run: the events channel', () => {
  test('a program printing forged event lines does not reach the channel, nor can it write there', () => {
    const script = `echo '${FORGED_EXIT}' >&2; echo '${FORGED_DENIED}'; echo '${FORGED_EXIT}' >&3 && echo reached-fd3; exit 3`
    const r = withFd3(['run', '--json', '--events-fd', '3', '--', 'sh', '-c', script])
    assert.equal(r.status, 3, r.stderr)
    assert.doesNotMatch(r.stdout, /reached-fd3/, 'descriptor 3 is not open in the sandbox')
    assert.ok(r.stderr.includes(FORGED_EXIT), 'the program printed it, on its own stderr')
    const lines = r.fd3.split('\n').filter(Boolean)
    assert.ok(!lines.includes(FORGED_EXIT) && !lines.includes(FORGED_DENIED), r.fd3)
    const events = lines.map((l) => JSON.parse(l) as { event: string; code?: number })
    assert.deepEqual(
      events.map((e) => e.event),
      ['landlock', 'status', 'started', 'exit', 'result'],
    )
    assert.equal(events.find((e) => e.event === 'exit')?.code, 3)
    assert.equal(
      events.find((e) => e.event === 'denied'),
      undefined,
    )
  })

  // helper-114: writeSync(fd, '') took any descriptor open for writing, Node's own included:
  // events went into libuv's wake-up pipe, and cordon died of SIGSEGV or lost them. Every fd the
  // caller did not open (which are Node's varies with the host) is refused, before the command.
  test("an --events-fd the caller did not open is refused, never one of Node's own written into", () => {
    for (let fd = 3; fd <= 24; fd++) {
      const r = cordon(
        ['run', '-q', '--json', '--events-fd', String(fd), '--', 'sh', '-c', 'echo ran; exit 3'],
        {
          cwd: projectDir(),
        },
      )
      assert.equal(r.signal, null, `fd ${fd}: cordon died of ${r.signal}`)
      assert.equal(r.status, 125, `fd ${fd}: ${r.stdout}${r.stderr}`)
      assert.equal(r.stdout, '', `fd ${fd}: the command ran`)
      assert.match(
        r.stderr,
        new RegExp(`--events-fd ${fd}: descriptor ${fd} is not (one the caller opened|open for)`),
      )
    }
  })

  test('--json alone is refused with what to pass', () => {
    const r = cordon(['run', '--json', '--', 'true'])
    assert.equal(r.status, 125)
    assert.match(r.stderr, /--json needs an events channel of its own: add --events FILE, or --events-fd N/)
  })

  test("cordon's own failure is a line on the channel too", () => {
    const file = join(projectDir(), 'failed-events.jsonl')
    const r = cordon(['run', '--json', '--events', file, '--policy', '/nonexistent.yaml', '--', 'true'])
    assert.equal(r.status, 125)
    const last = JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop()!) as {
      event: string
      message: string
    }
    assert.equal(last.event, 'error')
    assert.match(last.message, /Policy file \/nonexistent\.yaml does not exist/)
  })

  test('--alert json in a run needs the channel, and then writes alerts there', () => {
    const refused = cordon(['run', '--monitor', '--alert', 'json', '--', 'true'])
    assert.equal(refused.status, 125)
    assert.match(refused.stderr, /--alert json: .*never into the program's stdout or stderr/)
    const r = withFd3([
      'run',
      '--monitor',
      '--alert',
      'json',
      '--events-fd',
      '3',
      '--',
      'sh',
      '-c',
      'unshare -U true 2>/dev/null; true',
    ])
    assert.equal(r.status, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /"alert"/)
    const alert = r.fd3
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; alert?: { rule: string } })
      .find((l) => l.event === 'alert')
    assert.equal(alert?.alert?.rule, 'escape-attempt', r.fd3)
  })

  test("--events-fd refuses the program's descriptors and closed ones", () => {
    assert.match(cordon(['run', '--events-fd', '2', '--', 'true']).stderr, /0, 1 and 2 are the program's/)
    assert.match(
      cordon(['run', '--events-fd', '97', '--', 'true']).stderr,
      /descriptor 97 is not open for writing \(EBADF\)/,
    )
  })

  test('--events creates a private file, truncates its own, and refuses a link', () => {
    const dir = join(projectDir(), 'events-file')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, 'run.jsonl')
    writeFileSync(file, '{"event":"stale"}\n', { mode: 0o644 })
    const r = cordon(['run', '--events', file, '--', 'true'])
    assert.equal(r.status, 0, r.stderr)
    const text = readFileSync(file, 'utf8')
    assert.doesNotMatch(text, /stale/)
    assert.match(text, /"event":"result"/)
    // A file of the caller's that is not JSON lines is not emptied (`--events /etc/passwd`).
    const other = join(dir, 'notes.txt')
    writeFileSync(other, 'root:x:0:0::/root:/bin/sh\n')
    const kept = cordon(['run', '--events', other, '--', 'true'])
    assert.equal(kept.status, 125)
    assert.match(
      kept.stderr,
      /--events .*notes\.txt: holds something other than JSON lines, which cordon would empty/,
    )
    assert.equal(readFileSync(other, 'utf8'), 'root:x:0:0::/root:/bin/sh\n')
    const created = join(dir, 'new.jsonl')
    assert.equal(cordon(['run', '--events', created, '--', 'true']).status, 0)
    assert.equal(statSync(created).mode & 0o777, 0o600)

    const victim = join(dir, 'victim')
    writeFileSync(victim, 'keep\n')
    symlinkSync(victim, join(dir, 'link.jsonl'))
    const linked = cordon(['run', '--events', join(dir, 'link.jsonl'), '--', 'true'])
    assert.equal(linked.status, 125)
    assert.match(linked.stderr, /is a symbolic link, and cordon does not follow links/)
    assert.equal(readFileSync(victim, 'utf8'), 'keep\n')
  })

  test(
    "--events refuses another user's file",
    { skip: !isRoot && 'needs root to own a file as another user' },
    () => {
      const file = join(projectDir(), 'nobodys.jsonl')
      writeFileSync(file, 'theirs\n')
      chownSync(file, 65534, 65534)
      const r = cordon(['run', '--events', file, '--', 'true'])
      assert.equal(r.status, 125)
      assert.match(r.stderr, /belongs to uid 65534, not to you \(uid 0\)/)
      assert.equal(readFileSync(file, 'utf8'), 'theirs\n')
    },
  )
})

describe('cordon run: escaped human lines', () => {
  test('an alert on a path with a newline and ESC is one escaped line on stderr', () => {
    const forged = 'cordon: [critical] forged (sandbox 1): all clear'
    const script = `d="/tmp/x
${forged} $(printf '\\033[31m')"; mkdir -p "$d" && cp /bin/sh "$d/sh" && "$d/sh" -c true 2>/dev/null; true`
    const r = cordon(['run', '--monitor', '--', 'sh', '-c', script])
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stderr.split('\n')
    assert.ok(!lines.some((l) => l.startsWith(forged)), r.stderr)
    assert.ok(!r.stderr.includes('\u001b'), JSON.stringify(r.stderr))
    const alert = lines.find((l) => l.startsWith('cordon: [warning] shell-exec'))
    assert.ok(alert, r.stderr)
    assert.ok(alert.includes(`/tmp/x\\n${forged} \\e[31m/sh`), alert)
  })
})
