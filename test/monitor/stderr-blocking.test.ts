// Observation is transparent (DESIGN.md): the monitor must not change what the program sees. Its
// stderr alert sink once built process.stderr, and for a pipe libuv makes that fd non-blocking:
// the file description the program shares (it now writes fd 2 itself, host/stderr.ts). A program writing more than the pipe holds to a reader
// that is a moment late then gets EAGAIN (head: "write error: Resource temporarily
// unavailable") under --monitor, and not without it.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
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
