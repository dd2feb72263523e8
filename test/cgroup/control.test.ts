// Other cordon processes see running sandboxes (`cordon ps`) and can freeze, thaw and kill them.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawn } from '../../src/index.js'
import { cordon, isRoot, projectDir } from '../helpers.js'

interface PsRow {
  id: string
  usage?: { frozen: boolean; pids: number; cpuUsageUsec: number }
}
const ps = (): PsRow[] => (JSON.parse(cordon(['ps', '--json']).stdout) as { sandboxes: PsRow[] }).sandboxes

describe('cordon ps, freeze, thaw, kill', { skip: isRoot ? false : 'cgroups need root here' }, () => {
  test('a running sandbox is listed, frozen, thawed and killed from another process', async () => {
    const child = spawn(
      { extends: ['default'], limits: { pids: 50, memory: '256M' } },
      'sh',
      ['-c', 'while :; do :; done'],
      {
        stdio: 'ignore',
        context: { cwd: projectDir() },
      },
    )
    await sleep(300)
    const row = ps().find((r) => r.id === child.id)
    assert.ok(row, 'listed by cordon ps')
    assert.equal(row.usage?.frozen, false)
    assert.ok((row.usage?.pids ?? 0) >= 1)
    // Sizes as the statements and the report say them (policy/schema.ts sizeWord), not `12052.5M`.
    const text = cordon(['ps']).stdout
    const line = text.split('\n').find((l) => l.startsWith(child.id))
    assert.match(line ?? text, /memory=256 MiB/)
    assert.match(line ?? text, / \d+(\.\d)? (MiB|KiB|bytes|GiB) /)

    // Each says what it did (helper-152: silence read as nothing done), and -q silences it.
    const frozen = cordon(['freeze', child.id])
    assert.equal(frozen.status, 0)
    assert.match(
      frozen.stderr,
      new RegExp(`froze sandbox ${child.id}|${child.id} has no cgroup: stopped with SIGSTOP`),
    )
    assert.equal(ps().find((r) => r.id === child.id)?.usage?.frozen, true)
    const thawed = cordon(['thaw', '-q', child.id])
    assert.equal(thawed.status, 0)
    assert.equal(thawed.stderr, '')
    assert.equal(ps().find((r) => r.id === child.id)?.usage?.frozen, false)

    const killed = cordon(['kill', child.id])
    assert.equal(killed.status, 0)
    assert.match(killed.stderr, new RegExp(`killed sandbox ${child.id}`))
    const r = await child.exited
    assert.equal(r.signal, 'SIGKILL')
    assert.equal(
      ps().find((x) => x.id === child.id),
      undefined,
    )
  })

  test('unknown ids are bad input (exit 2) naming cordon ps, for every action', () => {
    for (const verb of ['freeze', 'thaw', 'kill']) {
      const r = cordon([verb, 'ffffffff'])
      assert.equal(r.status, 2, `${verb}: ${r.stderr}`)
      assert.match(r.stderr, /no running sandbox with id ffffffff; see cordon ps for the ids/)
      assert.match(r.stderr, /each user sees only their own/) // helper-138: root, a plain user's id
    }
  })
})

describe('cordon ps on a terminal', () => {
  test('no escape sequence in a command reaches the terminal', async () => {
    // An OSC title sequence and a CSI clear: a file name or argument the program chose could
    // carry either, and `cordon ps` prints the command for a person.
    const evil = '\u001b]0;pwned\u0007\u001b[2J\u009b1m\u202e'
    const child = spawn({ extends: ['default'] }, 'sh', ['-c', 'sleep 30', evil], {
      stdio: 'ignore',
      context: { cwd: projectDir() },
    })
    try {
      await sleep(300)
      const text = cordon(['ps']).stdout
      const line = text.split('\n').find((l) => l.startsWith(child.id))
      assert.ok(line, text)
      // eslint-disable-next-line no-control-regex -- control characters are what must not appear
      assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/)
      assert.match(line, /sleep 30 \\e\]0;pwned\\x07\\e\[2J\\x9b1m\\u202e$/)
    } finally {
      child.kill('SIGKILL')
      await child.exited
    }
  })
})
