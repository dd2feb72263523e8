// Without a mount namespace a `tmpfs:` cannot be mounted: the host's directory stays, and the
// statement says it is out of reach ($TMPDIR instead). A bind enclosing it (`ro: /usr` with
// `tmpfs: /usr/share`) granted its whole tree to Landlock, so the program read the host's files
// there while the status said `partial`, Landlock keeping it. Binds are now split around such a
// tmpfs as around a mask, and a rule that is not (`landlock.paths`) takes Landlock off the
// statement. Found by a helper's attack (session 13).
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { statementStatus } from '../../src/status/statements.js'
import { type FilesystemEntry, type Policy, resolvePolicy } from '../../src/index.js'
import { probeKernel } from '../../src/host/probe.js'
import { cordon, isRoot, projectDir } from '../helpers.js'

const noView = (filesystem: FilesystemEntry[], more: Partial<Policy> = {}) =>
  statementStatus(
    resolvePolicy(
      {
        policy: { extends: ['minimal'], namespaces: { mount: false }, filesystem, ...more },
        baseDir: projectDir(),
        label: 'test',
      },
      projectDir(),
    ),
    7,
  )

describe('a tmpfs without a mount namespace, inside a bind', () => {
  test('the bind is split around it: Landlock keeps the statement', () => {
    const dir = projectDir()
    const s = noView([{ ro: dir }, { tmpfs: `${dir}/cache` }]).find(
      (x) => x.statement === `tmpfs ${dir}/cache`,
    )
    assert.equal(s?.status, 'partial', JSON.stringify(s))
    assert.deepEqual(s?.enforcedBy, ['landlock'])
  })

  test('a landlock path enclosing it is not split: no layer keeps it, and the status says why', () => {
    const dir = projectDir()
    const s = noView([{ tmpfs: `${dir}/cache` }], {
      landlock: { paths: [{ path: dir, access: ['read', 'readdir'] }] },
    }).find((x) => x.statement === `tmpfs ${dir}/cache`)
    assert.equal(s?.status, 'none', JSON.stringify(s))
    const why = s?.missing.find((l) => l.layer === 'landlock')?.why ?? ''
    assert.match(why, /landlock path/)
    assert.match(why, /without a mount namespace nothing else hides it/)
  })

  test(
    'the program cannot read the host files under it, and reads the rest of the bind',
    { skip: probeKernel().landlock.abi < 1 && 'no Landlock here' },
    (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'cordon-tmpfs-noview-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      chmodSync(dir, 0o755)
      mkdirSync(join(dir, 'cache'))
      writeFileSync(join(dir, 'cache', 'secret'), 'hidden\n', { mode: 0o644 })
      writeFileSync(join(dir, 'shown'), 'shown\n', { mode: 0o644 })
      const policy = join(dir, 'p.yaml')
      writeFileSync(
        policy,
        `version: 1\nextends: [default]\nfilesystem:\n  - ro: ${dir}\n  - tmpfs: ${dir}/cache\n`,
      )
      const run = (command: string) =>
        cordon(
          [
            'run',
            '-q',
            '--no-namespaces',
            '--acknowledge',
            'no-view',
            '-p',
            policy,
            '--',
            'sh',
            '-c',
            command,
          ],
          { cwd: dir },
        )
      const hidden = run(`cat ${dir}/cache/secret`)
      assert.notEqual(hidden.status, 0, hidden.stdout)
      assert.doesNotMatch(hidden.stdout, /hidden/)
      assert.match(hidden.stderr, /Permission denied/)
      const shown = run(`cat ${dir}/shown`)
      assert.equal(shown.status, 0, shown.stderr)
      assert.equal(shown.stdout, 'shown\n')
    },
  )

  test(
    'named through a symlink, it is carved out where it really is',
    { skip: probeKernel().landlock.abi < 1 && 'no Landlock here' },
    (t) => {
      // A link an earlier run could have made in a project (`mv build real; ln -s real build`),
      // or a merged-/usr host's /lib -> usr/lib: the bind's rule is on the real path.
      const dir = mkdtempSync(join(tmpdir(), 'cordon-tmpfs-link-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      chmodSync(dir, 0o755)
      mkdirSync(join(dir, 'real', 'sub'), { recursive: true })
      writeFileSync(join(dir, 'real', 'sub', 'secret'), 'hidden\n', { mode: 0o644 })
      symlinkSync('real', join(dir, 'link'))
      const r = cordon(
        [
          ...['run', '-q', '--no-namespaces', '--acknowledge', 'no-view', '--ro', dir],
          ...['--tmpfs', `${dir}/link/sub`, '--', 'cat', `${dir}/link/sub/secret`, `${dir}/real/sub/secret`],
        ],
        { cwd: dir },
      )
      assert.notEqual(r.status, 0, r.stdout)
      assert.doesNotMatch(r.stdout, /hidden/)
    },
  )

  test(
    'a bind that leads into it through a link refuses the run: no layer keeps it then',
    {
      skip:
        (!isRoot && "root: a trusted link is root's, in /") ||
        (probeKernel().landlock.abi < 1 && 'no Landlock here'),
    },
    (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'cordon-tmpfs-shown-'))
      const link = `/cordon-test-link-${process.pid}`
      t.after(() => {
        rmSync(link, { force: true })
        rmSync(dir, { recursive: true, force: true })
      })
      chmodSync(dir, 0o755)
      mkdirSync(join(dir, 'sub'))
      writeFileSync(join(dir, 'sub', 'secret'), 'hidden\n', { mode: 0o644 })
      symlinkSync(join(dir, 'sub'), link) // root's, in /: a read-only bind follows it
      const r = cordon(
        [
          ...['run', '-q', '--no-namespaces', '--acknowledge', 'no-view', '--ro', link],
          ...['--tmpfs', `${dir}/sub`, '--', 'cat', `${dir}/sub/secret`],
        ],
        { cwd: dir },
      )
      assert.equal(r.status, 125, r.stdout)
      assert.doesNotMatch(r.stdout, /hidden/)
      // The default profile's `tmpfs: /tmp` too: the link's target is in the host's /tmp.
      assert.match(r.stderr, /no layer enforces/)
      assert.match(r.stderr, new RegExp(`\`tmpfs ${dir}/sub\` .*through \`bind ${link}\``))
    },
  )

  test('under the host’s /proc or at a device, no layer keeps it: proc and dev rules never split', () => {
    const proc = noView([{ proc: '/proc' }, { tmpfs: '/proc/sys' }]).find(
      (x) => x.statement === 'tmpfs /proc/sys',
    )
    assert.equal(proc?.status, 'none', JSON.stringify(proc))
    assert.match(proc?.missing.find((l) => l.layer === 'landlock')?.why ?? '', /proc \/proc/)
    const dev = noView([{ dev: '/dev' }, { mask: '/dev/urandom' }]).find(
      (x) => x.statement === 'mask /dev/urandom',
    )
    assert.equal(dev?.status, 'none', JSON.stringify(dev))
  })

  test(
    'a bind inside it by a link of its own leads to the host’s files: no layer keeps it',
    { skip: (!isRoot && 'root: a trusted link is root’s, in a system directory') || false },
    (t) => {
      // A view copies such a link into the empty tmpfs, where it leads nowhere; without one the
      // bind was a rule on the link's target, the host's directory the tmpfs stands for.
      const top = `/usr/share/cordon-test-${process.pid}`
      t.after(() => rmSync(top, { recursive: true, force: true }))
      mkdirSync(join(top, 'real'), { recursive: true, mode: 0o755 })
      writeFileSync(join(top, 'real', 'secret'), 'hidden\n', { mode: 0o644 })
      symlinkSync('real', join(top, 'link'))
      const r = cordon(
        [
          ...['run', '-q', '--no-namespaces', '--acknowledge', 'no-view', '--tmpfs', top],
          ...['--ro', `${top}/link`, '--', 'cat', `${top}/real/secret`],
        ],
        { cwd: projectDir() },
      )
      assert.equal(r.status, 125, r.stdout)
      assert.doesNotMatch(r.stdout, /hidden/)
      assert.match(r.stderr, new RegExp(`\`tmpfs ${top}\` .*through \`bind ${top}/link\``))
    },
  )

  test('cordon check names what cordon run would refuse, and says the names stay listable', () => {
    const flags = ['--no-namespaces', '--acknowledge', 'no-view']
    const refused = cordon(['check', '--json', ...flags, '--tmpfs', '/proc/sys'], { cwd: projectDir() })
    assert.deepEqual((JSON.parse(refused.stdout) as { refused: string[] }).refused, ['tmpfs /proc/sys'])
    const text = cordon(['check', ...flags, '--tmpfs', '/proc/sys'], { cwd: projectDir() })
    assert.match(text.stdout, /cordon run refuses .* no layer enforces `tmpfs \/proc\/sys`/)
    // -q: no report, the exit status; what run would refuse still on stderr.
    const quiet = cordon(['check', '-q', ...flags, '--tmpfs', '/proc/sys'], { cwd: projectDir() })
    assert.equal(quiet.stdout, '')
    // In the run's words, with its fix; a policy the run refuses fails the check.
    assert.match(
      quiet.stderr,
      /^cordon: cordon run refuses .* no layer enforces `tmpfs \/proc\/sys` \(.*\) in this mode; run with namespaces[^\n]*\n$/,
    )
    assert.equal(quiet.status, 1)
    const silent = cordon(['check', '-q'], { cwd: projectDir() })
    assert.deepEqual([silent.status, silent.stdout, silent.stderr], [0, '', ''])
    const kept = cordon(['check', '--json', ...flags, '--tmpfs', '/usr/share/doc'], { cwd: projectDir() })
    const report = JSON.parse(kept.stdout) as {
      refused: string[]
      statements: { statement: string; missing: { why: string }[] }[]
    }
    assert.deepEqual(report.refused, [])
    const why = report.statements.find((x) => x.statement === 'tmpfs /usr/share/doc')?.missing[0]?.why ?? ''
    assert.match(why, /only Landlock can keep its files \(not their names\) out of reach/)
  })
})
