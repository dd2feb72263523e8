// DNS under a TCP-only policy (issue 20, finding 8): `--tcp-connect` refuses UDP, so name
// lookups fail, and the README says so with the ways through. Each is tried here with the real
// resolver (glibc's getaddrinfo through getent): an /etc/hosts of your own, and glibc asking
// over TCP (`RES_OPTIONS=use-vc`) through the port allowlist, to a resolver the test runs.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CLI, isRoot, projectDir } from '../helpers.js'

const timeout = 120_000
const hasGetent = spawnSync('sh', ['-c', 'command -v getent']).status === 0

function cordon(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'run', '--quiet', '--net', 'host', ...args], {
      cwd: projectDir(),
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)))
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** A DNS server over TCP only (RFC 1035 4.2.2: a 2-byte length before each message) that
 * answers every A question with 192.0.2.8 and every other one with no records. */
function tcpResolver(): Server & { questions: number } {
  const server = Object.assign(
    createServer((socket) => {
      let buf = Buffer.alloc(0)
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d])
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const query = buf.subarray(2, 2 + buf.readUInt16BE(0))
          buf = buf.subarray(2 + query.length)
          server.questions++
          let end = 12
          while (query[end]) end += query[end]! + 1
          const question = query.subarray(12, end + 5)
          const isA = query.readUInt16BE(end + 1) === 1
          const header = Buffer.from(query.subarray(0, 12))
          header.writeUInt16BE(0x8180, 2) // a response, recursion desired and available, NOERROR
          header.writeUInt16BE(1, 4)
          header.writeUInt16BE(isA ? 1 : 0, 6)
          header.writeUInt32BE(0, 8)
          const answer = isA
            ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 8])
            : Buffer.alloc(0)
          const reply = Buffer.concat([header, question, answer])
          const len = Buffer.alloc(2)
          len.writeUInt16BE(reply.length)
          socket.write(Buffer.concat([len, reply]))
        }
      })
      socket.on('error', () => {})
    }),
    { questions: 0 },
  )
  return server
}

describe('DNS under --tcp-connect', { skip: !hasGetent && 'no getent' }, () => {
  test('UDP is refused, so a name only DNS knows is not found', { timeout }, async () => {
    const udp = await cordon([
      '--tcp-connect',
      '80',
      '--',
      'python3',
      '-c',
      'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    ])
    assert.notEqual(udp.status, 0)
    assert.match(udp.stderr, /PermissionError/)
    const r = await cordon(['--tcp-connect', '80', '--', 'getent', 'ahostsv4', 'svc.cordon-test.invalid'])
    assert.equal(r.status, 2, `not found: ${r.stdout}${r.stderr}`)
  })

  test('an /etc/hosts of your own answers', { timeout }, async () => {
    const hosts = join(projectDir(), 'hosts')
    writeFileSync(hosts, '192.0.2.7 svc.cordon-test.invalid\n')
    const r = await cordon([
      '--tcp-connect',
      '80',
      '--ro',
      `${hosts}:/etc/hosts`,
      '--',
      'getent',
      'ahostsv4',
      'svc.cordon-test.invalid',
    ])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^192\.0\.2\.7\s/)
  })

  test(
    'RES_OPTIONS=use-vc with --tcp-connect 53 asks the resolver over TCP',
    { timeout, skip: !isRoot && 'the resolver must listen on port 53, which needs root' },
    async (t) => {
      const server = tcpResolver()
      // An address of the loopback net that nothing else uses: resolv.conf has no port field.
      const address = `127.${(process.pid >> 8) & 0xff}.${process.pid & 0xff}.53`
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(53, address, resolve)
      })
      t.after(() => server.close())
      const conf = join(projectDir(), 'resolv.conf')
      writeFileSync(conf, `nameserver ${address}\n`)
      const r = await cordon([
        '--tcp-connect',
        '53',
        '--ro',
        `${conf}:/etc/resolv.conf`,
        '--env',
        'RES_OPTIONS=use-vc',
        '--',
        'getent',
        'ahostsv4',
        'svc.cordon-test.invalid',
      ])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^192\.0\.2\.8\s/)
      assert.ok(server.questions > 0)
    },
  )
})
