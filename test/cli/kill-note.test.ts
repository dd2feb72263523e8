// A sandbox that `cordon kill` ended says so on its run's stderr and in its result event, as a
// timeout or a limit does; a program that SIGKILLs itself gets no such note (the note comes
// from cordon's own mark, not from guessing at the signal).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLI, cordon, projectDir } from '../helpers.js'

const timeout = 60_000

describe('the end of a run killed by cordon kill', () => {
  test(
    'cordon kill: exit 137 with a note naming cordon kill, and killedBy in the result',
    { timeout },
    async () => {
      // A unique command, to find this sandbox among other runs of the same user.
      const marker = `${process.pid}${Date.now()}`
      const child = spawn(
        process.execPath,
        [CLI, 'run', '--events-fd', '3', '--', 'sh', '-c', `sleep 30; echo ${marker}`],
        {
          cwd: projectDir(),
          stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
          env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        },
      )
      let events = ''
      let stderr = ''
      child.stdio[3]!.on('data', (d: Buffer) => (events += d.toString()))
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
      let id: string | undefined
      for (let i = 0; i < 100 && !id; i++) {
        await sleep(100)
        const ps = JSON.parse(cordon(['ps', '--json']).stdout) as {
          sandboxes: { id: string; command: string[] }[]
        }
        id = ps.sandboxes.find((s) => s.command.join(' ').includes(marker))?.id
      }
      assert.ok(id, 'the sandbox is listed')
      const k = cordon(['kill', id])
      assert.equal(k.status, 0, k.stderr)
      const [code] = (await once(child, 'exit')) as [number | null]
      assert.equal(code, 137, stderr)
      assert.match(
        stderr,
        new RegExp(`cordon: killed by \`cordon kill ${id}\`: the whole sandbox was killed`),
      )
      const result = events
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string; killedBy?: string })
        .find((e) => e.event === 'result')
      assert.equal(result?.killedBy, `cordon kill ${id}`)
    },
  )

  test('a program killed by its own SIGKILL: exit 137, no note', { timeout }, () => {
    const r = cordon(['run', '--', 'sh', '-c', 'kill -KILL $$'], { cwd: projectDir(), timeout })
    assert.equal(r.status, 137, r.stderr)
    assert.doesNotMatch(r.stderr, /killed by|cordon kill/)
  })
})
