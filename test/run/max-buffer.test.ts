// run() collects output up to maxBuffer (issue 17, point 7): a sandbox printing far more than
// that is killed, run() rejects with the fix, and cordon's own memory stays bounded — the
// sandbox's memory limit bounds the sandbox, not what it prints into the caller.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CordonError } from '../../src/errors.js'
import { DEFAULT_MAX_BUFFER } from '../../src/run/run.js'
import { projectDir, runSettled as run } from '../helpers.js'

const policy = { extends: ['default'] }
const context = { context: { cwd: projectDir() } }

describe('run() maxBuffer', () => {
  test('1 GiB printed under a 64 MiB memory limit: killed at the bound, clear error, memory bounded', async () => {
    const rssBefore = process.memoryUsage().rss
    const started = performance.now()
    await assert.rejects(
      run({ ...policy, limits: { memory: '64M' } }, 'head', ['-c', '1G', '/dev/zero'], context),
      (e: unknown) => {
        assert.ok(e instanceof CordonError)
        assert.equal(e.code, 'max_buffer')
        assert.match(
          e.message,
          new RegExp(
            `more than maxBuffer \\(${DEFAULT_MAX_BUFFER} bytes\\) to stdout, so the sandbox was killed; raise the \`maxBuffer\` option`,
          ),
        )
        return true
      },
    )
    const grew = (process.memoryUsage().rss - rssBefore) / 2 ** 20
    assert.ok(grew < 3 * (DEFAULT_MAX_BUFFER / 2 ** 20), `RSS grew ${grew.toFixed(0)} MiB`)
    assert.ok(performance.now() - started < 20_000, 'killed, not run to the end')
  })

  test('a smaller maxBuffer applies to stderr too; output within it is returned whole', async () => {
    await assert.rejects(
      run(policy, 'sh', ['-c', 'head -c 5000 /dev/zero >&2'], { ...context, maxBuffer: 4096 }),
      /more than maxBuffer \(4096 bytes\) to stderr/,
    )
    const ok = await run(policy, 'sh', ['-c', 'head -c 4096 /dev/zero'], { ...context, maxBuffer: 4096 })
    assert.equal(ok.code, 0)
    assert.equal(ok.stdout.length, 4096)
  })

  test('a maxBuffer that is not a positive number of bytes is refused', async () => {
    await assert.rejects(
      run(policy, 'true', [], { ...context, maxBuffer: -1 }),
      /`maxBuffer` to be a positive whole number of bytes, got `-1`/,
    )
  })
})
