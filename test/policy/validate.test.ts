// tier: unit
// Malformed policies: one clear error each, naming the field, located in the file.
import assert from 'node:assert/strict'
import { totalmem } from 'node:os'
import { describe, test } from 'node:test'
import { CordonError, parsePolicy, resolvePolicy, validatePolicy } from '../../src/index.js'
import { resolveLayers } from '../../src/policy/resolve.js'
import { namespacesOf } from '../../src/learn/carried.js'

function errorOf(fn: () => unknown): CordonError {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof CordonError, `expected CordonError, got ${e}`)
    return e
  }
  assert.fail('expected an error')
}

describe('policy validation', () => {
  const cases: { name: string; yaml: string; want: RegExp; code: string }[] = [
    {
      name: 'wrong type',
      yaml: 'hostname: 42\n',
      want: /policy\.yaml:1:11: Expected `hostname` to be a string, got `42` \(number\)/,
      code: 'invalid_type',
    },
    {
      // `--timeout 5` is seconds; the policy spells the unit out, and says how (a newcomer).
      name: 'a timeout without its unit',
      yaml: 'limits:\n  timeout: 5\n',
      want: /to be a duration like "30s", got `5` \(number\); write "5s" for 5 seconds/,
      code: 'invalid_type',
    },
    {
      name: 'unknown top-level key with a suggestion',
      yaml: 'network: none\nnamespace:\n  pid: true\n',
      want: /policy\.yaml:2:1: Unknown key `namespace` in `policy`; did you mean `namespaces`\?/,
      code: 'unknown_key',
    },
    {
      name: 'a key cut short: the one key it begins',
      yaml: 'net: none\n',
      want: /policy\.yaml:1:1: Unknown key `net` in `policy`; did you mean `network`\?/,
      code: 'unknown_key',
    },
    {
      name: 'bad enum value',
      yaml: 'network: lan\n',
      want: /policy\.yaml:1:10: Expected `network` to be one of `none`, `loopback`, `host`, got `lan` \(string\)/,
      code: 'invalid_value',
    },
    {
      name: 'relative destination',
      yaml: 'filesystem:\n  - tmpfs: tmp\n',
      want: /policy\.yaml:2:12: `filesystem\[0\]\.tmpfs`: expected an absolute path, got `tmp`/,
      code: 'invalid_value',
    },
    {
      name: 'unknown filesystem entry kind',
      yaml: 'filesystem:\n  - tmpf: /tmp\n',
      want: /policy\.yaml:2:5: .*got `tmpf`; did you mean `tmpfs`\?/,
      code: 'unknown_key',
    },
    {
      name: 'bad size',
      yaml: 'filesystem:\n  - tmpfs: { dest: /tmp, size: lots }\n',
      want: /expected a size like "64M", got `lots`/,
      code: 'invalid_value',
    },
    {
      // Without execute in access the mount is noexec: exec: true would be overruled unsaid.
      name: 'a tmpfs whose exec: true its access contradicts',
      yaml: 'filesystem:\n  - tmpfs: { dest: /w, exec: true, access: [read, write] }\n',
      want: /policy\.yaml:2:30: `filesystem\[0\]\.tmpfs\.exec` is true, but `access` leaves execute out, .*add execute to `access`/,
      code: 'conflict',
    },
    {
      name: 'bad memory limit',
      yaml: 'limits: { memory: 150% }\n',
      want: /expected a size like "512M" or "1.5G" \(K, M, G, T: powers of 1024\), a percentage like "50%" or "max", got `150%`/,
      code: 'invalid_value',
    },
    {
      name: 'bad pids limit',
      yaml: 'limits: { pids: lots }\n',
      want: /Expected `limits\.pids` to be an integer from 2 to 4194304 or one of `max`, got `lots` \(string\)/,
      code: 'invalid_type',
    },
    {
      name: 'bad mode',
      yaml: 'filesystem:\n  - mkdir: { dest: /w, mode: "0999" }\n',
      want: /expected an octal mode like "0755", got `0999`/,
      code: 'invalid_value',
    },
    {
      name: 'bad env name',
      yaml: 'env:\n  pass: ["A B"]\n',
      want: /`A B` is not a variable name/,
      code: 'invalid_value',
    },
    {
      name: 'YAML syntax error',
      yaml: 'network: [none\n',
      want: /policy\.yaml:\d+:\d+: /,
      code: 'invalid_syntax',
    },
  ]
  for (const c of cases)
    test(`rejects ${c.name}`, () => {
      const e = errorOf(() => parsePolicy(c.yaml, 'policy.yaml'))
      assert.equal(e.code, 'invalid_policy')
      assert.equal(e.issues.length, 1, e.message)
      assert.equal(e.issues[0]!.code, c.code)
      assert.match(e.message, c.want)
      assert.doesNotMatch(e.message, /at .*\.js:\d+/, 'no stack trace')
    })

  test('shows the offending line under a caret', () => {
    const e = errorOf(() => parsePolicy('version: 1\nnetwork: lan\n', 'p.yaml'))
    assert.match(e.message, /2 \| network: lan\n\s+\| {10}\^/)
  })

  // helper-118: a 60 KB line was echoed whole, and a caret far right came after 4000 spaces.
  test('a long line is shown as a window around the column, the caret under it', () => {
    const long = `version: 1\nfilesystem: [{ro: "/${'d'.repeat(4000)}"}, {bogus: 1}]\n`
    const e = errorOf(() => parsePolicy(long, 'p.yaml'))
    const [source, mark] = e.message.split('\n').slice(-2) as [string, string]
    assert.ok(source.length < 130 && mark.length < 130, e.message)
    assert.match(source, /^ +2 \| …d+"\}, \{bogus: 1\}\]$/)
    assert.equal(source.charAt(mark.indexOf('^')), 'b', 'the caret is under bogus')
  })

  test('collects every issue at once', () => {
    const e = errorOf(() => validatePolicy({ hostname: 1, network: 'x', bogus: true }))
    assert.equal(e.issues.length, 3)
  })

  test('JSON policies are located too', () => {
    const e = errorOf(() => parsePolicy('{\n  "network": "lan"\n}\n', 'p.json'))
    assert.match(e.message, /p\.json:2:14: /)
  })

  test('a file a policy extends that is missing names the policy that asked for it', () => {
    const e = errorOf(() =>
      resolvePolicy({
        policy: { extends: ['./nope.yaml'] },
        baseDir: '/nonexistent-dir',
        label: '/p/team.yaml',
      }),
    )
    assert.match(
      e.message,
      /^\/p\/team\.yaml: extends `\.\/nope\.yaml`: Policy file \/nonexistent-dir\/nope\.yaml does not exist/,
    )
  })

  test('unknown capability and profile give suggestions', () => {
    const cap = errorOf(() =>
      resolvePolicy({ policy: { capabilities: ['net_bind_servce'] }, baseDir: '/', label: 'x' }),
    )
    assert.match(cap.message, /Unknown capability `net_bind_servce`; did you mean `net_bind_service`\?/)
    const prof = errorOf(() => resolvePolicy({ policy: { extends: ['defualt'] }, baseDir: '/', label: 'x' }))
    assert.match(prof.message, /no profile named `defualt`; did you mean `default`\?/)
  })

  test('contradictions across fields name both fields', () => {
    const e = errorOf(() =>
      resolvePolicy({ policy: { network: 'host', namespaces: { net: true } }, baseDir: '/', label: 'x' }),
    )
    assert.match(e.message, /`namespaces.net: true` contradicts `network: host`/)
    // A later layer's network is the later word (helper-152: `--net host` over a learned policy,
    // which wrote `namespaces.net: true` beside `network: none`, was refused as a contradiction).
    const layered = (net: boolean, network: 'none' | 'loopback' | 'host') =>
      resolveLayers(
        [
          { policy: { network: net ? 'none' : 'host', namespaces: { net } }, baseDir: '/', label: 'file' },
          { policy: { network }, baseDir: '/', label: 'flags' },
        ],
        '/',
      )
    assert.deepEqual([layered(true, 'host').network, layered(true, 'host').namespaces.net], ['host', false])
    assert.deepEqual(
      [layered(false, 'loopback').network, layered(false, 'loopback').namespaces.net],
      ['loopback', true],
    )
    // `none` over no net namespace stays kept by refusing IP sockets, as the file said.
    assert.equal(layered(false, 'none').namespaces.net, false)
    // Learn writes the net namespace only where `network` does not say it.
    const learnedNet = (network: 'none' | 'host', net: boolean) =>
      namespacesOf(
        resolveLayers([{ policy: { network, namespaces: { net } }, baseDir: '/', label: 'b' }], '/'),
      ).net
    assert.equal(learnedNet('none', true), undefined)
    assert.equal(learnedNet('host', false), undefined)
    assert.equal(learnedNet('none', false), false)
    const proc = errorOf(() =>
      resolvePolicy({
        policy: { namespaces: { pid: false }, filesystem: [{ proc: '/proc' }] },
        baseDir: '/',
        label: 'x',
      }),
    )
    assert.match(proc.message, /`proc` needs `namespaces.pid: true`/)
  })

  test('a valid policy passes and extends merge in order', () => {
    const p = parsePolicy(
      'extends: [default]\nnetwork: loopback\nfilesystem:\n  - rw: ./out\n  - tmpfs: { dest: /cache, size: 64M, mode: "0700" }\n',
      '/proj/policy.yaml',
    )
    const r = resolvePolicy({ policy: p, baseDir: '/proj', label: '/proj/policy.yaml' }, '/proj')
    assert.equal(r.network, 'loopback')
    assert.deepEqual(r.sources, ['profile:default', '/proj/policy.yaml'])
    assert.deepEqual(r.filesystem.at(-2), {
      kind: 'bind',
      src: '/proj/out',
      dest: '/proj/out',
      readOnly: false,
      optional: false,
    })
    assert.deepEqual(r.filesystem.at(-1), { kind: 'tmpfs', dest: '/cache', size: 64 * 2 ** 20, mode: 0o700 })
  })

  test('the default profile limits tasks and half the memory; a policy can lift or change them', () => {
    const resolve = (yaml: string) =>
      resolvePolicy({ policy: parsePolicy(yaml, '/p.yaml'), baseDir: '/', label: '/p.yaml' }, '/')
    const half = Math.floor(totalmem() / 2 / 4096) * 4096
    // A share keeps its percentage beside this host's bytes, for exports to other hosts.
    assert.deepEqual(resolve('extends: [default]\n').limits, { pids: 4096, memory: half, memoryPercent: 50 })
    assert.deepEqual(resolve('extends: [default]\nlimits: { memory: max, pids: max }\n').limits, {})
    assert.deepEqual(resolve('extends: [default]\nlimits: { memory: 25%, pids: 64 }\n').limits, {
      pids: 64,
      memory: Math.floor(totalmem() / 4 / 4096) * 4096,
      memoryPercent: 25,
    })
    assert.equal(resolve('extends: [default]\n').requireLimits, false)
    assert.equal(resolve('extends: [default]\nlimits: { require: true }\n').requireLimits, true)
  })
})
