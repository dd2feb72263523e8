// With audit enabled, a Landlock denial inside the sandbox arrives as exactly one `denied`
// event naming the path, the blocked right, the process and its executable. The test turns
// audit on for its duration (root only) and puts the previous setting back.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type Policy, NO_NAMESPACES } from '../../src/index.js'
import { isRoot, projectDir, runSettled as run } from '../helpers.js'

const SET_AUDIT = `
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)
s.bind((0, 0))
def get():
    s.send(struct.pack('=IHHII', 16, 1000, 1, 1, 0))
    while True:
        d = s.recv(8192)
        if struct.unpack('=H', d[4:6])[0] == 1000:
            return struct.unpack('=I', d[20:24])[0]
old = get()
if len(sys.argv) > 1:
    p = struct.pack('=8I', 1, int(sys.argv[1]), 0, 0, 0, 0, 0, 0)
    s.send(struct.pack('=IHHII', 16 + len(p), 1001, 5, 2, 0) + p)
    s.recv(8192)
print(old)
`
const audit = (value?: number) =>
  Number(
    execFileSync('python3', ['-c', SET_AUDIT, ...(value === undefined ? [] : [String(value)])], {
      encoding: 'utf8',
    }).trim(),
  )

describe(
  'Landlock denials reported through audit',
  { skip: isRoot ? false : 'enabling audit needs root' },
  () => {
    let previous = 0
    before(() => {
      previous = audit(1)
    })
    after(() => {
      if (previous !== 2) audit(previous) // 2 is locked: leave it
    })

    test('a denied open produces one landlock event naming the path', async () => {
      const secret = join(projectDir(), 'audit-secret')
      mkdirSync(secret, { recursive: true })
      writeFileSync(join(secret, 'key'), 'x')
      const policy: Policy = {
        namespaces: NO_NAMESPACES,
        network: 'host',
        acknowledge: ['no-view'],
        filesystem: [
          { ro: { src: '/usr' } },
          { ro: { src: '/lib', optional: true } },
          { ro: { src: '/lib64', optional: true } },
          { ro: { src: '/etc/ld.so.cache' } },
        ],
      }
      const r = await run(policy, '/usr/bin/cat', [join(secret, 'key')], { context: { cwd: '/' } })
      assert.equal(r.code, 1)
      const denied = r.events.filter((e) => e.event === 'denied')
      assert.equal(denied.length, 1, JSON.stringify(r.events))
      assert.deepEqual(
        { ...denied[0], pid: 0 },
        {
          event: 'denied',
          layer: 'landlock',
          blockers: 'fs.read_file',
          path: join(secret, 'key'),
          pid: 0,
          exe: '/usr/bin/cat',
        },
      )
    })
  },
)
