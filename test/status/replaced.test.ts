// A filesystem entry that a later one at the same place replaces is not in the view (the plan
// keeps the last entry at each destination, plan/view.ts), so it is no statement of the run: with
// `--ro /etc/shadow` over the default profile's mask, the status said the mask held in full
// while the program read the file. The later entry's statement is the one there.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { statementStatus } from '../../src/status/statements.js'
import { type FilesystemEntry, resolvePolicy } from '../../src/index.js'
import { probeKernel } from '../../src/host/probe.js'
import { CLI, cordon, isRoot, projectDir } from '../helpers.js'

const statuses = (filesystem: FilesystemEntry[], base = 'default') =>
  statementStatus(
    resolvePolicy(
      { policy: { extends: [base], filesystem }, baseDir: projectDir(), label: 'test' },
      projectDir(),
    ),
    7,
  )
const of = (all: ReturnType<typeof statuses>, statement: string) =>
  all.filter((s) => s.statement === statement)

// A same-path bind of a host link is the link in the view, with no rule of its own
// (plan/landlock.ts): its statement names the one layer that makes it.
test('a same-path bind of a host link is held by the mount view alone', (t) => {
  const link = ['/bin', '/lib', '/sbin', '/lib64'].find((p) =>
    lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink(),
  )
  if (!link) return t.skip('this host has no merged-/usr link at /bin, /lib, /sbin or /lib64')
  const [s] = of(statuses([]), `bind ${link}`)
  assert.deepEqual(s?.enforcedBy, ['mount view'])
  assert.equal(s?.status, 'full')
})

describe('a statement a later entry at its place replaces', () => {
  test('a mask under a later bind is no statement any more; the bind is', () => {
    assert.equal(of(statuses([]), 'mask /etc/shadow')[0]?.status, 'full', 'the profile alone keeps it')
    const all = statuses([{ ro: '/etc/shadow' }])
    assert.deepEqual(of(all, 'mask /etc/shadow'), [])
    assert.equal(of(all, 'bind /etc/shadow').length, 1)
  })

  test('one statement per place: a bind made writable, a tmpfs or a mask again', () => {
    const dir = projectDir()
    for (const fs of [
      [{ ro: dir }, { rw: dir }],
      [{ rw: dir }, { ro: dir }],
    ] as FilesystemEntry[][])
      assert.equal(of(statuses(fs, 'minimal'), `bind ${dir}`).length, 1, JSON.stringify(fs))
    const again = statuses([{ tmpfs: '/tmp' }, { mask: '/etc/shadow' }])
    assert.equal(of(again, 'tmpfs /tmp').length, 1)
    assert.equal(of(again, 'mask /etc/shadow').length, 1)
  })

  test('resolution keeps the last entry at each place: no consumer sees a replaced one', (t) => {
    const dir = projectDir()
    const policy = resolvePolicy(
      {
        policy: { extends: ['minimal'], filesystem: [{ rw: dir }, { ro: dir }] },
        baseDir: dir,
        label: 'test',
      },
      dir,
    )
    const at = policy.filesystem.filter((e) => e.dest === dir)
    assert.deepEqual(
      at.map((e) => e.kind === 'bind' && e.readOnly),
      [true],
    )
    // An export, one such consumer: the systemd unit made the replaced writable bind writable.
    const out = mkdtempSync(join(tmpdir(), 'cordon-replaced-export-'))
    t.after(() => rmSync(out, { recursive: true, force: true }))
    const file = join(out, 'p.yaml')
    writeFileSync(file, `version: 1\nextends: [default]\nfilesystem:\n  - rw: /etc/ssl\n  - ro: /etc/ssl\n`)
    const r = cordon(['export', '--to', 'systemd', '-p', file, '-o', join(out, 'unit'), '--', '/bin/true'], {
      cwd: dir,
    })
    assert.equal(r.status, 0, r.stderr)
    const unit = readdirSync(join(out, 'unit'))
      .map((f) => readFileSync(join(out, 'unit', f), 'utf8'))
      .join('\n')
    assert.doesNotMatch(unit, /ReadWritePaths=[^\n]*\/etc\/ssl(\s|$)/)
  })

  test(
    'without namespaces a replaced entry grants nothing: Landlock keeps the later one alone',
    { skip: probeKernel().landlock.abi < 1 && 'no Landlock here' },
    (t) => {
      // Landlock merges the rights of rules on one path: the replaced entry's rights made a mask
      // over a read-only bind show the file, and a read-only bind over a writable one writable.
      const dir = mkdtempSync(join(tmpdir(), 'cordon-replaced-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      chmodSync(dir, 0o755)
      writeFileSync(join(dir, 'secret'), 'secret\n', { mode: 0o644 })
      const policy = (file: string, entries: string) => {
        writeFileSync(join(dir, file), `version: 1\nextends: [default]\nfilesystem:\n${entries}`)
        return join(dir, file)
      }
      const bare = ['run', '-q', '--no-namespaces', '--acknowledge', 'no-view']
      const masked = policy('mask.yaml', `  - ro: ${dir}/secret\n  - mask: ${dir}/secret\n`)
      const read = cordon([...bare, '-p', masked, '--', 'cat', `${dir}/secret`], { cwd: dir })
      assert.notEqual(read.status, 0, read.stdout)
      assert.doesNotMatch(read.stdout, /secret/)
      const writable = policy('rw.yaml', `  - rw: ${dir}\n`)
      const write = cordon([...bare, '-p', writable, '--ro', dir, '--', 'sh', '-c', `echo x > ${dir}/w`], {
        cwd: dir,
      })
      assert.notEqual(write.status, 0, write.stderr)
      assert.equal(existsSync(join(dir, 'w')), false, 'the read-only bind, the later entry, kept')
      // The plan grants the later entry's rights only, with a view too.
      const plan = cordon(['plan', '-p', writable, '--ro', dir], { cwd: dir })
      assert.match(
        plan.stdout,
        new RegExp(`landlock ${dir}: read,readdir,execute,truncate \\(bind ${dir}\\)`),
      )
      assert.doesNotMatch(plan.stdout, new RegExp(`landlock ${dir}: [^\\n]*write`))
    },
  )

  test(
    'cordon check and a run no longer claim the mask, and the program reads the file',
    {
      skip:
        (!isRoot && 'host root: --host-root is root only') ||
        (!existsSync('/etc/shadow') && 'no /etc/shadow'),
    },
    () => {
      const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }
      const check = spawnSync(process.execPath, [CLI, 'check', '--ro', '/etc/shadow'], {
        cwd: projectDir(),
        encoding: 'utf8',
        env,
      })
      assert.doesNotMatch(check.stdout, /mask \/etc\/shadow:/)
      assert.match(check.stdout, /full +bind \/etc\/shadow: mount view \+ landlock/)
      const r = spawnSync(
        process.execPath,
        [CLI, 'run', '-q', '--host-root', '--ro', '/etc/shadow', '--', 'head', '-c', '5', '/etc/shadow'],
        { cwd: projectDir(), encoding: 'utf8', env },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout.length, 5, 'what the statuses say: the file is shown')
    },
  )
})
