// A filed plan's host reads made again in C (native/host-reads.c, through the addon): on real
// directories, files, links and /proc, C must confirm exactly the reads Node's own calls answer
// the same, in the form host/reads.ts records them, and never one that changed.
import assert from 'node:assert/strict'
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
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
  const unconfirmed = reads.filter((_, i) => confirmed[i] !== 1)
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
