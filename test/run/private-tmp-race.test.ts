// A killed supervisor's private /tmp is removed by the caller's next run, as the sandbox's ids,
// while a sandbox process that outlived its supervisor (--no-namespaces) may still be changing it.
// It swaps directories and files in the tree for symlinks to a file of its uid elsewhere (mode
// 0400): the removal must never change that file. The old removal (`chmod -R u+rwX` then `rm
// -rf`) follows a symlink swapped in after its lstat and gives the victim the mode of the decoy
// it saw (0777 here). Raced freely, that is a matter of timing (the old removal runs alongside,
// reported); with every chmod held a second under strace, it is certain: 0400 became 0777.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { removeTree } from '../../src/run/remove-tree.js'
import { isRoot, plainUserScratch } from '../helpers.js'

const REMOVE_TREE = fileURLToPath(new URL('../../src/run/remove-tree.js', import.meta.url))
const SECONDS = 4
/** The removals a race must have made for its result to say anything. */
const MIN_REMOVALS = 5

// $TOP's tree, refilled and raced: dN a directory, fN a 0777 file, each swapped for a symlink to
// the victim and back.
const SWAP = `
const fs = require('node:fs')
const [top, victim, stop] = process.argv.slice(1)
const cap = Date.now() + 50000
const t = (f) => { try { f() } catch {} }
while (!fs.existsSync(stop) && Date.now() < cap) {
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
const { existsSync, writeFileSync } = require('node:fs')
const [how, top, ms, main, owner, stop] = process.argv.slice(1)
const start = Date.now()
const end = start + Number(ms)
const run = how === 'new' ? import(main).then((m) => m.removeTree) : null
;(async () => {
  const removeTree = await run
  let n = 0
  // At least ms, and on a loaded machine on until the tree was removed and refilled a few
  // times (at most 40 s): the race must have run, whatever the load.
  while (Date.now() < end || (n <= MIN_REMOVALS && Date.now() < start + 40000)) {
    if (!existsSync(top + '/f63')) continue // filled
    if (removeTree) removeTree(top, Number(owner))
    else spawnSync('sh', ['-c', 'chmod -R u+rwX -- "$1" 2>/dev/null; exec rm -rf --one-file-system -- "$1"', 'rm', top])
    n++
  }
  writeFileSync(stop, '')
  console.log(n)
})()
`.replace('MIN_REMOVALS', String(MIN_REMOVALS))

describe(
  'removing a private /tmp a live sandbox races',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    test('never changes a file a swapped-in symlink points at', { timeout: 180_000 }, async (t) => {
      const { dir, user } = plainUserScratch(t, 'ptmp-race')
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
        const stop = join(dir, `stop-${label}`)
        const [, removals] = await Promise.all([
          child(['-e', SWAP, top, victim, stop]),
          child(['-e', REMOVE, how, top, ms, REMOVE_TREE, String(user.uid), stop]),
        ])
        return { mode: statSync(victim).mode & 0o7777, removals: Number(removals) }
      }
      for (const [label, remover] of [
        ['as root for the sandbox uid', {}],
        ['as the sandbox ids', ids],
      ] as const) {
        const fixed = await race('new', remover, label.replace(/\W/g, '-'))
        t.diagnostic(`remove-tree ${label}: ${fixed.removals} removals, victim 0${fixed.mode.toString(8)}`)
        assert.ok(
          fixed.removals > MIN_REMOVALS,
          `the tree was removed and refilled (${fixed.removals} removals)`,
        )
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

// The same race made certain: strace holds every chmod of the removal for a second before it
// runs, and the "sandbox" swaps the entry the removal just looked at for a symlink to the victim
// in that second. $1 the scratch directory, $2 remove-tree.js.
const PAUSED = {
  old: `cd "$1" && mkdir tree && touch tree/f && chmod 077 tree/f
( until grep -q 'newfstatat([0-9]*, "f"' trace 2>/dev/null; do sleep 0.01; done
  ln -s "$1/victim" tree/f.tmp && mv -T tree/f.tmp tree/f && echo swapped ) &
strace -qq -o trace -f -e trace=fchmodat,newfstatat -e inject=fchmodat:delay_enter=1000000 \\
  sh -c 'chmod -R u+rwX -- "$1" 2>/dev/null; exec rm -rf --one-file-system -- "$1"' rm "$1/tree"
wait`,
  new: `cd "$1" && mkdir -p tree/d && touch tree/d/x tree/f && chmod 077 tree/d
( until grep -q '/d", O_RDONLY|O_NOFOLLOW.*O_PATH' trace 2>/dev/null; do sleep 0.01; done
  mv tree/d tree/d.moved && ln -s "$1/victim" tree/d && echo swapped ) &
strace -qq -o trace -f -e trace=chmod,fchmodat,openat -e inject=chmod,fchmodat:delay_enter=1000000 \\
  node -e 'import(process.argv[1]).then((m) => m.removeTree(process.argv[2], 0))' "$2" "$1/tree"
wait`,
}

test(
  'with each chmod held a second, a swap after the look never reaches the victim',
  {
    skip: !isRoot
      ? 'needs root (strace of the removal)'
      : spawnSync('strace', ['-qq', '-o', '/dev/null', 'true']).status !== 0
        ? 'needs strace, allowed to trace'
        : false,
    timeout: 60_000,
  },
  (t) => {
    const mode = (how: 'old' | 'new') => {
      const dir = mkdtempSync(join(tmpdir(), `cordon-paused-${how}-`))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      writeFileSync(join(dir, 'victim'), 'keep', { mode: 0o400 })
      const r = spawnSync('bash', ['-c', PAUSED[how], 'paused', dir, REMOVE_TREE], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      })
      assert.match(r.stdout, /^swapped$/m, `the swap happened (${how}): ${r.stderr}`)
      return statSync(join(dir, 'victim')).mode & 0o7777
    }
    const old = mode('old')
    t.diagnostic(`chmod -R + rm -rf (before): victim 0400 -> 0${old.toString(8)}`)
    assert.equal(mode('new'), 0o400, 'remove-tree leaves the victim as it was')
  },
)
