// Bytes pass through untouched: arguments and passed environment values that are not UTF-8
// reach the program as given, through the CLI (which Node would decode lossily) and the library.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { pathFromBytes } from '../../src/host/path-bytes.js'
import { CLI, projectDir, runSettled as run } from '../helpers.js'

const ARG = Buffer.from('x\xffy\xc3\xa9\xed\xa0\x80', 'latin1')

describe('bytes that are not UTF-8', () => {
  test('the CLI hands arguments and passed variables over byte for byte', () => {
    // Node decodes argv and the environment as UTF-8, lossily; cordon reads them again from /proc.
    // printf in the outer shell makes the invalid bytes themselves.
    const script = `A=$(printf 'x\\377y'); V=$(printf 'a\\376b'); export V; exec "${process.execPath}" "${CLI}" run --pass-env V -- printf '%s|%s' "$A" "$V"`
    const r = spawnSync('sh', ['-c', script], {
      cwd: projectDir(),
      env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: '' },
    })
    assert.equal(r.status, 0, String(r.stderr))
    assert.deepEqual(r.stdout, Buffer.from('x\xffy|a\xfeb', 'latin1'))
  })

  test('the library takes escaped strings (pathFromBytes) and passes the bytes', async () => {
    const r = await run(
      { extends: ['default'] },
      'sh',
      ['-c', 'printf %s "$1" | od -An -tx1', 'sh', pathFromBytes(ARG)],
      {
        context: { cwd: projectDir() },
      },
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.replace(/\s+/g, ''), ARG.toString('hex'))
  })
})
