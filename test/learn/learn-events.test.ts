// `cordon learn --json` printed its summary on stdout, which the learned command shares: a last
// line without a newline glued to it, and the command could print a summary of its own first
// (helper-113). With an events channel (--events FILE, --events-fd N), the summary goes there,
// cordon's alone, and stdout is the command's; a channel that cannot be used is refused before
// anything runs, as run refuses it.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { cordon, isRoot } from '../helpers.js'

describe(
  'learn --json with an events channel',
  { skip: !isRoot && 'a project outside /tmp needs root here' },
  () => {
    const dir = `/srv/cordon-learn-events-${process.pid}`
    mkdirSync(dir, { recursive: true })
    after(() => rmSync(dir, { recursive: true, force: true }))

    test('the summary is on the channel, and stdout is the command’s alone', () => {
      const events = `${dir}/events.jsonl`
      const r = cordon(
        ['learn', '-q', '--json', '--events', events, '-o', `${dir}/p.yaml`, '--', 'sh', '-c', 'printf abc'],
        { cwd: dir, timeout: 120_000 },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, 'abc')
      const lines = readFileSync(events, 'utf8').trimEnd().split('\n')
      assert.equal(lines.length, 1)
      const summary = JSON.parse(lines[0]!) as { event: string; version: number; policy: string }
      assert.equal(summary.event, 'learned')
      assert.equal(summary.version, 1)
      assert.equal(summary.policy, `${dir}/p.yaml`)
    })

    test('without a channel, stdout still carries it (after the command’s output)', () => {
      const r = cordon(['learn', '-q', '--json', '-o', `${dir}/q.yaml`, '--', 'sh', '-c', 'echo abc'], {
        cwd: dir,
        timeout: 120_000,
      })
      assert.equal(r.status, 0, r.stderr)
      const [first, second] = r.stdout.trimEnd().split('\n')
      assert.equal(first, 'abc')
      assert.equal((JSON.parse(second!) as { version: number }).version, 1)
    })

    test('a descriptor that is not open is refused before the command runs', () => {
      const marker = `${dir}/ran`
      const r = cordon(
        ['learn', '--events-fd', '9', '-o', `${dir}/r.yaml`, '--', 'sh', '-c', `: > ${marker}`],
        {
          cwd: dir,
        },
      )
      assert.equal(r.status, 125, r.stderr)
      assert.match(r.stderr, /--events-fd 9/)
      assert.ok(!existsSync(marker), 'nothing ran')
      assert.ok(!existsSync(`${dir}/r.yaml`))
    })
  },
)
