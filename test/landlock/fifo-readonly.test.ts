// A read-only mount refuses writes to files, not the open of a FIFO for writing. Where Landlock
// grants write through an enclosing writable tree (`--rw . --ro .git`), the mount is the only
// layer of the read-only bind, and a FIFO in it takes the sandbox's bytes: the statement says
// so (helper-137). Where Landlock holds (the bind alone), the write is refused.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import { cordon } from '../helpers.js'

const dir = `/srv/cordon-fifo-${process.pid}`
process.once('exit', () => rmSync(dir, { recursive: true, force: true }))

/** What a host reader of fifo got while `cordon run ARGS -- sh -c 'echo X > FIFO'` ran. */
async function throughFifo(fifo: string, args: string[]): Promise<{ read: string; stderr: string }> {
  const reader = spawn('timeout', ['5', 'cat', fifo], { stdio: ['ignore', 'pipe', 'ignore'] })
  let read = ''
  reader.stdout.on('data', (d: Buffer) => (read += String(d)))
  const r = cordon(['run', '-q', ...args, '--', 'sh', '-c', `echo X > ${fifo}`], { cwd: dir })
  if (!read) reader.kill() // nothing was written: no writer will end the reader's wait
  await new Promise((done) => reader.once('close', done))
  return { read, stderr: r.stderr }
}

describe('a FIFO in a read-only bind', () => {
  mkdirSync(`${dir}/.git`, { recursive: true, mode: 0o755 })
  spawnSync('mkfifo', ['-m', '666', `${dir}/.git/fifo`])

  test('under a writable tree: written (the mount does not refuse it), and the statement says so', async () => {
    const plan = cordon(['plan', '--rw', '.', '--ro', '.git'], { cwd: dir })
    assert.match(plan.stdout, /partial bind .*\.git: mount view .*a FIFO in it stays writable/, plan.stdout)
    const r = await throughFifo(`${dir}/.git/fifo`, ['--rw', '.', '--ro', '.git'])
    assert.equal(r.read, 'X\n', r.stderr)
  })

  test('alone: Landlock refuses it', async () => {
    const r = await throughFifo(`${dir}/.git/fifo`, ['--ro', '.git'])
    assert.equal(r.read, '')
    assert.match(r.stderr, /Permission denied/)
  })
})
