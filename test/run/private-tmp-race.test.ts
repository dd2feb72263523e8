// A killed supervisor's private /tmp is removed by the caller's next run, as the sandbox's ids,
// while a sandbox process that outlived its supervisor (--no-namespaces) may still be changing it.
// It swaps, as fast as it can, directories and files in the tree for symlinks to a file of its
// uid elsewhere (mode 0400): the removal must never change that file. The old removal (`chmod -R
// u+rwX` then `rm -rf`) follows a symlink swapped in after its lstat and gives the victim the
// mode of the decoy it saw (0777 here); it runs alongside as the control, reported, not asserted
// (whether a race is won in a few seconds depends on the host's timing).
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { removeTree } from '../../src/run/remove-tree.js'
import { isRoot, plainUserScratch } from '../helpers.js'

const REMOVE_TREE = fileURLToPath(new URL('../../src/run/remove-tree.js', import.meta.url))
const SECONDS = 4

// $TOP's tree, refilled and raced: dN a directory, fN a 0777 file, each swapped for a symlink to
// the victim and back.
const SWAP = `
const fs = require('node:fs')
const [top, victim, ms] = process.argv.slice(1)
const end = Date.now() + Number(ms)
const t = (f) => { try { f() } catch {} }
while (Date.now() < end) {
  t(() => fs.mkdirSync(top))
  for (let k = 0; k < 64; k++) {
    const d = top + '/d' + k, f = top + '/f' + k, s = top + '/s' + k
    t(() => fs.mkdirSync(d, 0o777))
    t(() => { fs.symlinkSync(victim, s); fs.renameSync(s, f) })
    t(() => { fs.rmdirSync(d); fs.symlinkSync(victim, d) })
    t(() => { fs.writeFileSync(s, ''); fs.chmodSync(s, 0o777); fs.renameSync(s, f) })
    t(() => fs.unlinkSync(d))
  }
}
`

// Removes $TOP (when there) over and over for ms: `new` with remove-tree.js (only OWNER's
// directories), `old` with the former command.
const REMOVE = `
const { spawnSync } = require('node:child_process')
const { existsSync } = require('node:fs')
const [how, top, ms, main, owner] = process.argv.slice(1)
const end = Date.now() + Number(ms)
const run = how === 'new' ? import(main).then((m) => m.removeTree) : null
;(async () => {
  const removeTree = await run
  let n = 0
  while (Date.now() < end) {
    if (!existsSync(top + '/f63')) continue // filled
    if (removeTree) removeTree(top, Number(owner))
    else spawnSync('sh', ['-c', 'chmod -R u+rwX -- "$1" 2>/dev/null; exec rm -rf --one-file-system -- "$1"', 'rm', top])
    n++
  }
  console.log(n)
})()
`

describe(
  'removing a private /tmp a live sandbox races',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    test('never changes a file a swapped-in symlink points at', { timeout: 60_000 }, async (t) => {
      const { dir, user } = plainUserScratch(t, 'tmp-race')
      const ids = { uid: user.uid, gid: user.gid }
      // The removal as the supervisor does it (root, the sandbox's uid named), as a sweep does it
      // (the sandbox's ids), and as main did it.
      const race = async (how: 'new' | 'old', remover: { uid?: number; gid?: number }, label: string) => {
        const victim = join(dir, `victim-${label}`)
        writeFileSync(victim, 'keep', { mode: 0o400 })
        spawnSync('chown', [`${user.uid}:${user.gid}`, victim])
        const top = join(dir, `tree-${label}`)
        const ms = String(SECONDS * 1000)
        const child = (args: string[]) =>
          new Promise<string>((done) => {
            let out = ''
            const as = args[1] === REMOVE ? remover : ids
            const c = spawn(process.execPath, args, { ...as, env: {}, stdio: ['ignore', 'pipe', 'inherit'] })
            c.stdout.on('data', (d: Buffer) => (out += d.toString()))
            c.on('close', () => done(out.trim()))
          })
        const [, removals] = await Promise.all([
          child(['-e', SWAP, top, victim, ms]),
          child(['-e', REMOVE, how, top, ms, REMOVE_TREE, String(user.uid)]),
        ])
        return { mode: statSync(victim).mode & 0o7777, removals: Number(removals) }
      }
      for (const [label, remover] of [
        ['as root for the sandbox uid', {}],
        ['as the sandbox ids', ids],
      ] as const) {
        const fixed = await race('new', remover, label.replace(/\W/g, '-'))
        t.diagnostic(`remove-tree ${label}: ${fixed.removals} removals, victim 0${fixed.mode.toString(8)}`)
        assert.ok(fixed.removals > 5, `the tree was removed and refilled (${fixed.removals} removals)`)
        assert.equal(fixed.mode, 0o400, `the victim keeps its mode (${label})`)
      }
      const old = await race('old', ids, 'old')
      t.diagnostic(`chmod -R + rm -rf (before): ${old.removals} removals, victim 0${old.mode.toString(8)}`)
    })
  },
)

test(
  'a removal for the sandbox uid leaves a directory of another uid as it is',
  { skip: isRoot ? false : 'needs root to make a directory of another uid' },
  (t) => {
    const { dir, user } = plainUserScratch(t, 'tmp-owner')
    const top = join(dir, 'tree')
    mkdirSync(join(top, 'mine', 'deep'), { recursive: true })
    writeFileSync(join(top, 'mine', 'deep', 'f'), '')
    spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, top])
    mkdirSync(join(top, 'roots'), { mode: 0o755 }) // root's, in the sandbox's tree
    writeFileSync(join(top, 'roots', 'f'), 'keep')
    assert.equal(removeTree(top, user.uid), false, 'not all of it')
    assert.deepEqual(readdirSync(top), ['roots'])
    assert.equal(readFileSync(join(top, 'roots', 'f'), 'utf8'), 'keep')
    assert.equal(statSync(join(top, 'roots')).mode & 0o777, 0o755, 'not made u+rwx either')
  },
)
