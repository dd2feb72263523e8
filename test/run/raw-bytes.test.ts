// Bytes pass through untouched: arguments, passed environment values, paths in flags and the
// working directory that are not UTF-8 reach the program as given, through the CLI (which Node
// would decode lossily) and the library.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

  test('paths in --ro, --rw and --cwd, and a working directory, keep their bytes', (t) => {
    // A directory named d\xffx (not UTF-8) outside the project: the sandbox sees it only
    // through the flags, so a path changed on the way would be a missing bind, not a pass.
    const base = mkdtempSync(join(tmpdir(), 'cordon-bytes-'))
    t.after(() => rmSync(base, { recursive: true, force: true }))
    const script = [
      `D="${base}/$(printf 'd\\377x')"; mkdir "$D" && echo kept > "$D/f"`,
      `C="${process.execPath} ${CLI} run --quiet"`,
      // from another directory: --ro SRC:DEST, --ro SRC with --cwd SRC, --rw SRC
      `cd "${projectDir()}"`,
      '$C --ro "$D:/data" -- cat /data/f',
      '$C --ro "$D" --cwd "$D" -- cat f',
      '$C --rw "$D" -- sh -c \'echo w > "$1/g"\' sh "$D"',
      // from the directory itself: the default profile shows it, and the command starts there
      'cd "$D" && $C -- sh -c \'pwd | od -An -c | tr -d " \\n"; cat f\'',
    ].join('\n')
    const r = spawnSync('sh', ['-ec', script], { env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: '' } })
    assert.equal(r.status, 0, String(r.stderr))
    const dir = Buffer.concat([Buffer.from(`${base}/d`), Buffer.from([0xff]), Buffer.from('x')])
    const od = [...dir].map((b) => (b < 0x80 ? String.fromCharCode(b) : b.toString(8))).join('')
    assert.equal(String(r.stdout), `kept\nkept\n${od}\\nkept\n`)
    const written = readdirSync(base, { encoding: 'buffer' })
    assert.deepEqual(
      written.map((n) => n.toString('hex')),
      [Buffer.from('d\xffx', 'latin1').toString('hex')],
    )
    assert.deepEqual(readdirSync(Buffer.from(dir)).map(String).sort(), ['f', 'g'])
  })

  test("cordon's own files under such a path are its own: a policy, a seccomp file, an output", (t) => {
    // process.cwd() and a string path write the bytes as U+FFFD: `-p policy.yaml` from p\xff
    // (or the absolute escaped path) read p\xef\xbf\xbd/policy.yaml, which another user could
    // write in /tmp, and root ran that policy.
    const base = mkdtempSync(join(tmpdir(), 'cordon-bytes-'))
    t.after(() => rmSync(base, { recursive: true, force: true }))
    chmodSync(base, 0o755)
    const policy = (mark: string) => `version: 1\\nextends: [default]\\nenv:\\n  set:\\n    MARK: ${mark}\\n`
    const script = [
      `D="${base}/$(printf 'p\\377')"; T="${base}/$(printf 'p\\357\\277\\275')"`,
      `mkdir "$D" "$T"`,
      `printf '${policy('own')}' > "$D/policy.yaml"; printf '${policy('planted')}' > "$T/policy.yaml"`,
      `printf '{"defaultAction":"SCMP_ACT_ALLOW"}' > "$T/sc.json"`,
      `C="${process.execPath} ${CLI}"`,
      `cd "$D"`,
      `$C run -q -p policy.yaml -- sh -c 'echo "$MARK"'`,
      `cd / && $C run -q -p "$D/policy.yaml" --ro "$D" --cwd "$D" -- sh -c 'echo "$MARK"'`,
      // the planted allow-all seccomp file is not read: the own path has none
      `$C check --seccomp "$D/sc.json" >/dev/null 2>&1 && echo read-planted || echo refused`,
      `cd "$D" && $C compile -q -o out.plan -- true && test -s "$D/out.plan" && test ! -e "$T/out.plan" && echo output-own`,
    ].join('\n')
    const r = spawnSync('sh', ['-ec', script], { env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: '' } })
    assert.equal(r.status, 0, String(r.stderr))
    assert.equal(String(r.stdout), 'own\nown\nrefused\noutput-own\n')
  })

  test('the compile reads such a path itself, not its U+FFFD sibling someone planted', (t) => {
    // Node writes an escaped byte of a string path as U+FFFD (EF BF BD): the host reads of the
    // compile (and of a filed plan's check) asked about p\xef\xbf\xbd, where another user's
    // symlink to /etc turned the project's bind into a link, and the command started in /etc.
    const base = mkdtempSync(join(tmpdir(), 'cordon-bytes-'))
    t.after(() => rmSync(base, { recursive: true, force: true }))
    chmodSync(base, 0o755)
    const script = [
      `D="${base}/$(printf 'p\\377')"; mkdir "$D" && echo project > "$D/f"`,
      `ln -s /etc "${base}/$(printf 'p\\357\\277\\275')"`,
      `cd "$D"`,
      // twice: the second run of a root caller starts from the plan the first filed
      `for i in 1 2; do "${process.execPath}" "${CLI}" run --quiet -- sh -c 'cat f; ls | tr "\\n" " "; echo'; done`,
    ].join('\n')
    const r = spawnSync('sh', ['-ec', script], { env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: '' } })
    assert.equal(r.status, 0, String(r.stderr))
    assert.equal(String(r.stdout), 'project\nf \n'.repeat(2))
  })
})
