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
