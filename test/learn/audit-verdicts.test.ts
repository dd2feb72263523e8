// Audit's verdicts equal what enforcement does: a call that succeeds under the policy is no
// would-be denial (mkdir -p tries every directory on the way, each EEXIST), and one that fails
// is reported with the narrowest grant.
import assert from 'node:assert/strict'
import { mkdirSync, rmSync } from 'node:fs'
import { describe, test } from 'node:test'
import { cordon, isRoot, projectDir } from '../helpers.js'

describe('audit verdicts', () => {
  test('mkdir -p under the private /tmp: allowed enforced, so nothing to report', () => {
    const enforced = cordon(['run', '--', 'mkdir', '-p', '/tmp/foo/bar'], { cwd: projectDir() })
    assert.equal(enforced.status, 0, enforced.stderr)
    const audited = cordon(['run', '--audit', '--', 'mkdir', '-p', '/tmp/foo/bar'], { cwd: projectDir() })
    assert.equal(audited.status, 0, audited.stderr)
    assert.match(audited.stderr, /audit: the policy would have allowed everything this run did/)
  })

  // helper-114: a run that never started, or was killed, was said to have been allowed
  // "everything this run did".
  test('a run that did not start, or was cut short, is not given a clean verdict', () => {
    const missing = cordon(['run', '--audit', '--', '/nonexistent'], { cwd: projectDir() })
    assert.equal(missing.status, 127, missing.stderr)
    assert.match(missing.stderr, /audit: the command did not run, so nothing was judged/)
    assert.doesNotMatch(missing.stderr, /allowed everything/)
    const cut = cordon(['run', '--audit', '--timeout', '300ms', '--', 'sleep', '5'], { cwd: projectDir() })
    assert.equal(cut.status, 137, cut.stderr)
    assert.match(cut.stderr, /allowed everything this run did until its timeout killed it/)
  })

  // `tcp:` was enforced under audit: a bind outside its ports failed EACCES (and was reported
  // as "would have denied"), a UDP socket failed and went unreported, its refusal coming before
  // the tracer (helper-138); so did listen() without a bind port and TCP_FASTOPEN_CONNECT
  // (helper-139). Each goes through, and each is judged. Learn keeps them: the run behaves as
  // the policy it learns within, whose tcp section is the base's. A refused socket is named by
  // family and type.
  test('under tcp rules, what they refuse goes through under audit and is reported; learn keeps them', () => {
    const py =
      'import socket\nu = socket.socket(type=socket.SOCK_DGRAM)\nprint("udp")\n' +
      'u.bind(("127.0.0.1", 5353))\nu.connect(("127.0.0.1", 53))\n' +
      's = socket.socket()\ns.setsockopt(socket.IPPROTO_TCP, 30, 1)\nprint("fastopen")\n' +
      's.bind(("127.0.0.1", 0))\nprint("bind")\ns.listen(1)\nprint("listen")'
    const flags = ['--net', 'loopback', '--tcp-connect', '1']
    const enforced = cordon(['run', ...flags, '--', 'python3', '-c', py], { cwd: projectDir() })
    assert.equal(enforced.status, 1, 'enforced, the UDP socket is refused')
    const audited = cordon(['run', '--audit', ...flags, '--', 'python3', '-c', py], { cwd: projectDir() })
    assert.equal(audited.status, 0, audited.stderr)
    assert.equal(audited.stdout, 'udp\nfastopen\nbind\nlisten\n')
    assert.match(audited.stderr, /would have denied 4:/)
    for (const call of ['socket\\(AF_INET, SOCK_DGRAM\\)', 'setsockopt', 'listen'])
      assert.match(
        audited.stderr,
        new RegExp(`seccomp ${call} → errno\\(EACCES\\) \\(the tcp: section's seccomp layer\\)`),
      )
    assert.match(audited.stderr, /allow with no tcp: section/)
    assert.match(audited.stderr, /landlock bind 127\.0\.0\.1:0 → errno\(EACCES\) \(port not in tcp rules\)/)
    // The UDP socket's bind and connect are no tcp port's business: enforced, its socket() failed
    // (helper-140 F7: audit suggested tcp.bind: [5353]).
    assert.doesNotMatch(audited.stderr, /:5353|:53 |tcp\.bind: \[5353\]|tcp\.connect: \[1, 53\]/)
    const learned = cordon(
      ['learn', ...flags, '-o', `${projectDir()}/tcp-learned.yaml`, '--', 'python3', '-c', py],
      {
        cwd: projectDir(),
      },
    )
    assert.equal(learned.status, 1, 'learn refuses the UDP socket as enforced')
  })

  test('a write the policy refuses is reported once, with its own path as the grant', () => {
    const audited = cordon(
      [
        'run',
        '--audit',
        '--',
        'sh',
        '-c',
        'mkdir -p /usr/local/share/cordon-audit-x; rmdir /usr/local/share/cordon-audit-x',
      ],
      {
        cwd: projectDir(),
      },
    )
    assert.match(audited.stderr, /would have denied/)
    assert.match(audited.stderr, /create \/usr\/local\/share\/cordon-audit-x/)
    assert.doesNotMatch(audited.stderr, /rw: \/\n|create \/usr\/local\/share →/)
  })

  test(
    'a suggestion reads back as the path the program named, not another',
    { skip: !isRoot && 'creates a directory in /usr/local/share' },
    (t) => {
      // Pasted into a policy, `rw: /usr/local/share/cordon-audit #x` reads as another path.
      const dir = '/usr/local/share/cordon-audit #x'
      mkdirSync(dir)
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const audited = cordon(['run', '--audit', '--', 'sh', '-c', 'touch "$1/f"', 'sh', dir], {
        cwd: projectDir(),
      })
      assert.match(
        audited.stderr,
        /allow with filesystem: - rw: "\/usr\/local\/share\/cordon-audit #x"$/m,
        audited.stderr,
      )
    },
  )
})
