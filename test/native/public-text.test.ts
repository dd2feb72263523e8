// A sandbox's /etc/hosts copy is made by the caller, often root (plan/sandbox-hosts.ts), so its
// read (host/reads.ts hostReadPublicText) must never return a file the bind would not show any
// process: here a directory of the way is swapped with a link to a root-only directory, and
// back, as fast as the kernel lets a racer (renameat2 RENAME_EXCHANGE), while the text is read
// again and again. Without the check of where the kernel opened the file (/proc/self/fd),
// ~1% of reads returned the root-only file's text (helper-101).
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { hostReadPublicText } from '../../src/host/reads.js'
import { ROOT } from '../helpers.js'

const hasCc = spawnSync('cc', ['--version']).status === 0

test(
  'a link swapped in for a directory of the way never yields its file',
  { skip: !hasCc && 'needs a C compiler' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-public-'))
    chmodSync(dir, 0o755)
    const root = join(dir, 'root')
    mkdirSync(join(root, 'etc'), { recursive: true, mode: 0o755 })
    chmodSync(root, 0o755)
    writeFileSync(join(root, 'etc', 'hosts'), '127.0.0.1 public\n', { mode: 0o644 })
    const secret = join(dir, 'secret')
    mkdirSync(secret, { mode: 0o700 })
    writeFileSync(join(secret, 'hosts'), '10.6.6.6 SECRET\n', { mode: 0o644 })
    symlinkSync(secret, join(root, 'link'))
    const racer = join(dir, 'racer')
    execFileSync('cc', ['-O1', '-o', racer, join(ROOT, 'test', 'native', 'rename-exchange.c')])
    const race = spawn(racer, [root, 'etc', 'link', '30'], { stdio: 'ignore' })
    // The racer ends before the directory goes: removed under it, a name is swapped mid-way.
    t.after(async () => {
      if (race.exitCode === null && race.signalCode === null) {
        const ended = once(race, 'exit')
        race.kill('SIGKILL')
        await ended
      }
      rmSync(dir, { recursive: true, force: true })
    })
    let read = 0
    let leaked = 0
    const until = Date.now() + 3000
    for (let i = 0; Date.now() < until; i++) {
      const text = hostReadPublicText(join(root, 'etc', 'hosts'), root, 1 << 20)
      if (text?.includes('SECRET')) leaked++
      else if (text !== undefined) read++
      if (i % 200 === 199) await new Promise((r) => setImmediate(r))
    }
    assert.equal(leaked, 0, `the root-only file was read ${leaked} times (public: ${read})`)
  },
)
