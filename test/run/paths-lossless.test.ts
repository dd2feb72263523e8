// Paths travel from the launcher to TypeScript without loss: UTF-8 names as they are, and bytes
// that are not UTF-8 by a reversible escape that fs calls, learn and the rules understand.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { escapeControl, jsonLine } from '../../src/run/escape.js'
import type { SandboxEvent } from '../../src/run/events.js'
import { hasEscapedBytes, pathBytes, pathFromBytes } from '../../src/host/path-bytes.js'
import { projectDir, runSettled as run } from '../helpers.js'

const opened = (events: SandboxEvent[]) =>
  events
    .filter((e): e is Extract<SandboxEvent, { event: 'syscall' }> => e.event === 'syscall')
    .map((e) => e.path)
    .filter((p): p is string => typeof p === 'string' && p.startsWith('/tmp/n/'))

describe('paths from the launcher', () => {
  test('UTF-8 and non-UTF-8 names arrive as the bytes the program used', async () => {
    // Created and read inside the sandbox: a UTF-8 name, a lone 0xff byte, an overlong "/"
    // (c0 af) and an encoded surrogate (ed a0 80), which strict UTF-8 refuses.
    const script = [
      'mkdir /tmp/n && cd /tmp/n',
      `for f in 'café' "$(printf 'a\\377b')" "$(printf 'o\\300\\257')" "$(printf 's\\355\\240\\200')"; do`,
      '  echo x > "$f" && cat "/tmp/n/$f" >/dev/null',
      'done',
    ].join('\n')
    const r = await run({ extends: ['default'] }, 'sh', ['-c', script], {
      watch: ['openat'],
      context: { cwd: projectDir() },
    })
    assert.equal(r.code, 0, r.stderr)
    const bytes = [...new Set(opened(r.events))].map((p) => pathBytes(p).toString('hex'))
    const want = [
      Buffer.from('/tmp/n/café'),
      Buffer.from('/tmp/n/a\xffb', 'latin1'),
      Buffer.from('/tmp/n/o\xc0\xaf', 'latin1'),
      Buffer.from('/tmp/n/s\xed\xa0\x80', 'latin1'),
    ].map((b) => b.toString('hex'))
    for (const w of want) assert.ok(bytes.includes(w), `${w} not among ${bytes.join(' ')}`)
    assert.ok(opened(r.events).includes('/tmp/n/café'))
  })

  test('the escape is reversible, survives JSON lines and shows as \\xHH to people', () => {
    const raw = Buffer.from([0x2f, 0x61, 0xff, 0xc3, 0xa9, 0xed, 0xa0, 0x80, 0x5c, 0x78])
    const text = pathFromBytes(raw)
    assert.ok(hasEscapedBytes(text))
    assert.deepEqual(pathBytes(text), raw)
    assert.equal(escapeControl(text), '/a\\xffé\\xed\\xa0\\x80\\\\x')
    // As the event file and --json write it, and as a reader parses it back.
    const line = jsonLine({ event: 'syscall', path: text })
    assert.ok(line.includes('\\udcff'), line)
    assert.deepEqual(pathBytes((JSON.parse(line) as { path: string }).path), raw)
    assert.equal(pathFromBytes(Buffer.from('/plain/café')), '/plain/café')
    assert.ok(!hasEscapedBytes('/plain/café'))
  })
})
