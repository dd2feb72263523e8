// A filed plan's host reads made again in C (native/host-reads.c, through the addon): on real
// directories, files, links and /proc, C must confirm exactly the reads Node's own calls answer
// the same, in the form host/reads.ts records them, and never one that changed.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { loadAddon } from '../../src/host/addon.js'
import { pathFromBytes } from '../../src/host/path-bytes.js'
import {
  confirmedByAddon,
  type HostRead,
  hostDirents,
  hostLstat,
  hostReaddir,
  hostReadlink,
  hostReadText,
  recordHostReads,
  sameHostReads,
} from '../../src/host/reads.js'

const skip = !loadAddon()?.sameReads && 'the addon is not built (npm run build)'
const dir = mkdtempSync(join(tmpdir(), 'cordon-host-reads-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Every kind of read of path, as the compiler makes them (a read that throws is recorded too). */
function readAll(path: string): void {
  for (const read of [hostLstat, hostReadlink, hostReaddir, hostDirents, hostReadText])
    try {
      read(path)
    } catch {}
}

function record(paths: string[]): HostRead[] {
  return recordHostReads(() => paths.forEach(readAll)).reads
}

function tree(): string[] {
  // Names strcmp and a locale would sort apart, a name beyond ASCII, every kind of entry.
  for (const name of ['b', 'B', 'a', 'Zz', 'é', '_x', '10', '9']) writeFileSync(join(dir, name), name)
  mkdirSync(join(dir, 'sub'))
  symlinkSync('/etc', join(dir, 'link'))
  return [dir, ...['b', 'é', 'sub', 'link', 'missing', 'b/x'].map((n) => join(dir, n))]
}

test('C confirms every read of the host that Node answers the same', { skip }, () => {
  const paths = [
    ...tree(),
    '/etc',
    '/etc/passwd',
    '/etc/shadow',
    '/proc/self/mountinfo',
    '/proc/self/uid_map',
    '/proc/acpi',
    '/proc/kcore',
    '/dev/null',
    '/bin',
  ]
  const reads = record(paths)
  // All five ops and errors among them, so that each form is compared.
  assert.deepEqual(
    new Set(reads.map((r) => r.op)),
    new Set(['lstat', 'readlink', 'readdir', 'dirents', 'text']),
  )
  for (const code of ['!ENOENT', '!ENOTDIR', '!EINVAL', '!EISDIR'])
    assert.ok(
      reads.some((r) => r.answer === code),
      code,
    )
  const confirmed = confirmedByAddon(reads)
  assert.ok(confirmed)
  // A text read of what is not a regular file (/dev/null) fails as ENOTREG, cordon's own code,
  // which C leaves to JavaScript.
  const unconfirmed = reads.filter((r, i) => confirmed[i] !== 1 && r.answer !== '!ENOTREG')
  assert.deepEqual(unconfirmed, [])
  assert.equal(sameHostReads(reads), true)
})

test('a change to any read is never confirmed, and the plan is stale', { skip }, () => {
  const base = join(dir, 'changes')
  mkdirSync(base)
  for (const n of ['mode', 'links', 'text', 'kind']) writeFileSync(join(base, n), 'same length')
  symlinkSync('/etc', join(base, 'target'))
  const paths = [base, ...['mode', 'links', 'text', 'kind', 'target'].map((n) => join(base, n))]
  const changes: [string, () => void][] = [
    ['a file made in the directory', () => writeFileSync(join(base, 'new'), '')],
    ['a file removed', () => unlinkSync(join(base, 'new'))],
    ['a mode', () => chmodSync(join(base, 'mode'), 0o600)],
    ['a hard link made', () => linkSync(join(base, 'links'), join(dir, 'elsewhere'))],
    ['a text of the same length', () => writeFileSync(join(base, 'text'), 'SAME LENGTH')],
    [
      'a link retargeted',
      () => (unlinkSync(join(base, 'target')), symlinkSync('/usr', join(base, 'target'))),
    ],
    [
      'a file replaced by a link',
      () => (unlinkSync(join(base, 'kind')), symlinkSync('/x', join(base, 'kind'))),
    ],
  ]
  for (const [what, change] of changes) {
    const reads = record(paths)
    assert.equal(sameHostReads(reads), true, `before: ${what}`)
    change()
    const confirmed = confirmedByAddon(reads)!
    const changed = reads.filter((r, i) => confirmed[i] !== 1 && !sameHostReads([r]))
    assert.ok(changed.length > 0, `${what}: no read differs`)
    assert.ok(
      reads.every((r, i) => confirmed[i] !== 1 || sameHostReads([r])),
      `${what}: C confirmed a read that changed`,
    )
    assert.equal(sameHostReads(reads), false, what)
  }
})

test('a name that is not UTF-8 is left to JavaScript, and its change is seen', { skip }, () => {
  const base = join(dir, 'bytes')
  mkdirSync(base)
  const raw = Buffer.concat([Buffer.from(base + '/'), Buffer.from([0x66, 0xff, 0x6f])])
  writeFileSync(raw, 'x')
  const reads = record([base, pathFromBytes(raw)])
  assert.ok(reads.some((r) => r.answer.includes(pathFromBytes(Buffer.from([0x66, 0xff, 0x6f])))))
  assert.equal(sameHostReads(reads), true)
  renameSync(raw, Buffer.concat([Buffer.from(base + '/'), Buffer.from([0x66, 0xfe, 0x6f])]))
  assert.equal(sameHostReads(reads), false)
})

test('a value that reads like a failure is not taken for it', { skip }, () => {
  const base = join(dir, 'failures')
  mkdirSync(base)
  const missing = join(base, 'missing')
  const text = join(base, 'text')
  const notLink = join(base, 'plain')
  writeFileSync(notLink, '')
  const reads = recordHostReads(() => {
    for (const read of [() => hostReaddir(missing), () => hostReadText(text), () => hostReadlink(notLink)])
      try {
        read()
      } catch {}
  }).reads
  assert.deepEqual(
    reads.map((r) => r.answer),
    ['!ENOENT', '!ENOENT', '!EINVAL'],
  )
  // Each now holds the very string its failure was recorded as.
  mkdirSync(missing)
  writeFileSync(join(missing, '!ENOENT'), '')
  writeFileSync(text, '!ENOENT')
  unlinkSync(notLink)
  symlinkSync('!EINVAL', notLink)
  const confirmed = confirmedByAddon(reads)!
  reads.forEach((r, i) => {
    assert.notEqual(confirmed[i], 1, `C confirmed ${r.op} ${r.path}`)
    assert.equal(sameHostReads([r]), false, `${r.op} ${r.path}`)
  })
})

/** Runs a command; its status 0 or a reason to skip. */
function run(command: string, args: string[]): true | string {
  const r = spawnSync(command, args, { encoding: 'utf8' })
  return r.status === 0 || `${command} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`
}

test('an automount point is judged as Node sees it, not by its trigger', (t) => {
  if (skip) return t.skip(skip)
  if (process.getuid?.() !== 0) return t.skip('mounting debugfs needs root')
  const mnt = join(dir, 'debugfs')
  mkdirSync(mnt)
  const mounted = run('mount', ['-t', 'debugfs', 'none', mnt])
  if (mounted !== true) return t.skip(mounted)
  t.after(() => {
    spawnSync('umount', [join(mnt, 'tracing')])
    spawnSync('umount', [mnt])
  })
  const trigger = join(mnt, 'tracing')
  // coreutils' stat does not trigger an automount (AT_NO_AUTOMOUNT): the trigger itself, while
  // nothing is mounted on it (its %m would trigger it: not asked).
  const mountedOn = () => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${trigger} `)
  const st = spawnSync('stat', ['-c', '%f:%u', trigger], { encoding: 'utf8' })
  const [mode, uid] = st.stdout.trim().split(':')
  if (st.status !== 0 || mountedOn()) return t.skip(`no automount point at ${trigger} here`)
  const read: HostRead = { op: 'lstat', path: trigger, answer: `${Number.parseInt(mode!, 16)}:${uid}` }
  const confirmed = confirmedByAddon([read])!
  const node = recordHostReads(() => hostLstat(trigger)).reads[0]!
  assert.ok(mountedOn(), "Node's lstat mounted what the point stands for")
  assert.notEqual(node.answer, read.answer, 'Node saw the trigger: nothing to tell apart here')
  assert.notEqual(confirmed[0], 1, 'C confirmed the trigger where Node sees the mount')
  assert.equal(sameHostReads([read]), false)
})

test('a listing through `..` after a link is left to JavaScript where kinds need an lstat', (t) => {
  if (skip) return t.skip(skip)
  if (process.getuid?.() !== 0) return t.skip('mounting a file system needs root')
  // ext2 without the filetype feature: every entry's d_type is DT_UNKNOWN.
  const image = join(dir, 'ext2.img')
  const mnt = join(dir, 'ext2')
  mkdirSync(mnt)
  for (const [command, args] of [
    ['truncate', ['-s', '8M', image]],
    ['mkfs.ext2', ['-q', '-F', '-O', '^filetype', image]],
    ['mount', ['-o', 'loop', image, mnt]],
  ] as const) {
    const ok = run(command, [...args])
    if (ok !== true) return t.skip(ok)
  }
  t.after(() => spawnSync('umount', [mnt]))
  const top = join(mnt, 't')
  for (const d of ['a/b', 'a/e', 'b', 'e']) mkdirSync(join(top, d), { recursive: true })
  symlinkSync('a/b', join(top, 'l'))
  // The kernel lists t/a (l leads to t/a/b, up one); Node lstats t/b and t/e (path.join).
  const reads = record([`${join(top, 'l')}/..`]).filter((r) => r.op === 'dirents')
  assert.deepEqual(
    reads.map((r) => r.answer),
    ['db\0de'],
  )
  rmSync(join(top, 'e'), { recursive: true })
  writeFileSync(join(top, 'e'), 'x')
  assert.notEqual(confirmedByAddon(reads)![0], 1, 'C judged the kinds in another directory')
  assert.equal(sameHostReads(reads), false)
})
