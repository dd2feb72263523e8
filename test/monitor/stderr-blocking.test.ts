// Observation is transparent (DESIGN.md): the monitor must not change what the program sees. Its
// stderr alert sink once built process.stderr, and for a pipe libuv makes that fd non-blocking:
// the file description the program shares (it now writes fd 2 itself, host/stderr.ts). A program writing more than the pipe holds to a reader
// that is a moment late then gets EAGAIN (head: "write error: Resource temporarily
// unavailable") under --monitor, and not without it.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { projectDir, ROOT } from '../helpers.js'

const CLI = join(ROOT, 'bin', 'cordon.cjs')

/** The program's report (its stdout) when its stderr, a pipe, is read from one second on. */
function programSees(flags: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-stderr-'))
  try {
    const out = join(dir, 'out')
    const argv = [process.execPath, CLI, 'run', '--profile', 'minimal', ...flags, '--']
    const quoted = argv.map((a) => `'${a}'`).join(' ')
    spawnSync(
      'sh',
      [
        '-c',
        `${quoted} sh -c 'head -c 200000 /dev/zero >&2; echo "head: $?"' 2>&1 >'${out}' | { sleep 1; cat >/dev/null; }`,
      ],
      { cwd: projectDir(), env: { ...process.env, NODE_EXTRA_CA_CERTS: '' }, timeout: 60_000 },
    )
    return readFileSync(out, 'utf8').trim()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('a program writes all of its stderr to a slow pipe unobserved', () => {
  assert.equal(programSees([]), 'head: 0')
})

test('a program writes all of its stderr to a slow pipe under --monitor', () => {
  assert.equal(programSees(['--monitor']), 'head: 0')
})

/** The program's report when its stderr, a pipe, is read from two seconds on, while an observer
 * attaches to the run's event socket (as `cordon monitor` does) and leaves again. */
async function programSeesObserved(): Promise<string> {
  const { list, eventSocket } = await import('../../src/run/registry.js')
  const { connect } = await import('node:net')
  const { spawn } = await import('node:child_process')
  const dir = mkdtempSync(join(tmpdir(), 'cordon-stderr-'))
  try {
    const out = join(dir, 'out')
    const marker = `cordon-stderr-${process.pid}`
    const argv = [process.execPath, CLI, 'run', '--profile', 'minimal', '--', 'sh', '-c']
    const quoted = argv.map((a) => `'${a}'`).join(' ')
    // The program waits for the observer to have come and gone, then writes.
    const program = `: ${marker}; sleep 1.5; head -c 200000 /dev/zero >&2; echo "head: $?"`
    const shell = spawn(
      'sh',
      ['-c', `${quoted} '${program}' 2>&1 >'${out}' | { sleep 3; cat >/dev/null; }`],
      { cwd: projectDir(), env: { ...process.env, NODE_EXTRA_CA_CERTS: '' }, stdio: 'ignore' },
    )
    const done = new Promise((resolve) => shell.once('exit', resolve))
    let path: string | undefined
    for (let i = 0; i < 100 && !path; i++) {
      await new Promise((r) => setTimeout(r, 20))
      const record = list().find((r) => r.command.join(' ').includes(marker))
      path = record && eventSocket(record)
    }
    assert.ok(path, 'the run published its event socket')
    await new Promise((r) => setTimeout(r, 300)) // past the 100 ms after which the run serves it
    const socket = connect(path)
    await new Promise<void>((resolve, reject) => {
      socket.once('data', () => resolve())
      socket.once('error', reject)
    })
    socket.destroy()
    await done
    return readFileSync(out, 'utf8').trim()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// An observer that closes its connection closed a net socket in cordon's process, and Node's
// Socket._destroy asks `this !== process.stderr`: that built process.stderr, which made the
// program's shared stderr pipe non-blocking (bin/cordon.cjs now gives a pipe a blocking writer).
test('a program writes all of its stderr to a slow pipe while an observer attaches and leaves', async () => {
  assert.equal(await programSeesObserved(), 'head: 0')
})

/** The numbers of the lines a process wrote with writeStderr, in the order a reader that takes
 * a little at a time got them, when its fd 2 was made non-blocking (as a program sharing it may
 * make it; here a net.Socket on it does). */
async function linesAsRead(): Promise<number[]> {
  const { spawn } = await import('node:child_process')
  const { pathToFileURL } = await import('node:url')
  const module = pathToFileURL(join(ROOT, 'build', 'src', 'host', 'stderr.js')).href
  const script = `
    const { writeStderr } = await import(${JSON.stringify(module)})
    const { Socket } = await import('node:net')
    new Socket({ fd: 2, readable: false })
    for (let i = 0; i < 3000; i++) {
      writeStderr(i + ' ' + 'x'.repeat(100) + '\\n')
      if (i % 10 === 0) await new Promise((r) => setImmediate(r))
    }`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
  })
  let out = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d: string) => {
    out += d
    child.stderr.pause()
    setTimeout(() => child.stderr.resume(), 1)
  })
  await new Promise((resolve) => child.once('close', resolve))
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split(' ')[0]))
}

// A line that met EAGAIN waited in process.stderr while the next ones went straight to fd 2,
// past it: cordon's alerts came out of order (an alert for pid 13647 before 30 older ones).
test("cordon's lines keep their order on a stderr someone made non-blocking", async () => {
  const seen = await linesAsRead()
  assert.deepEqual(
    seen,
    Array.from({ length: 3000 }, (_, i) => i),
  )
})

// A stderr made non-blocking (the program shares it, and here makes it so) whose reader leaves
// while one of cordon's lines waits in process.stderr: the retry met EPIPE, the stream emitted
// an 'error' nothing handled, and cordon ended with status 1, killing the program mid-run.
test(
  'a program outlives a non-blocking stderr whose reader left while cordon had a line waiting',
  {
    skip: spawnSync('perl', ['-e', '1']).status === 0 ? false : 'needs perl',
  },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-stderr-'))
    try {
      const out = join(dir, 'out')
      const rules = join(dir, 'rules.yaml')
      writeFileSync(
        rules,
        'rules:\n  - rule: each-exec\n    description: every exec\n    when: event = syscall and syscall = execve\n    then: alert\n    priority: warning\n    throttle: 1000 per 1s\n    output: exec {path}\n',
      )
      // Fills the pipe, so that the alerts meet EAGAIN and wait; the reader (sleep) leaves at 1 s.
      const program =
        'use Fcntl; fcntl(STDERR, F_SETFL, O_NONBLOCK) or die; print STDERR "x" x 70000; system("/bin/true") for 1..5; sleep 2; print "done\\n"; exit 5'
      const argv = [
        process.execPath,
        CLI,
        'run',
        '--profile',
        'minimal',
        '--no-default-rules',
        '--rules',
        rules,
      ]
      const quoted = [...argv, '--', 'perl', '-e', program]
        .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
        .join(' ')
      const r = spawnSync('bash', ['-c', `${quoted} 2>&1 >'${out}' | sleep 1; echo "\${PIPESTATUS[0]}"`], {
        cwd: projectDir(),
        encoding: 'utf8',
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        timeout: 60_000,
      })
      assert.equal(r.stdout.trim(), '5', r.stderr)
      assert.equal(readFileSync(out, 'utf8'), 'done\n')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
)
