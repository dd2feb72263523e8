// The SIGSTOP sweep that freezes a sandbox without a cgroup (run/process-tree.ts) against a
// process that cannot take a SIGSTOP yet: a vfork parent whose child never execs waits in
// state D for ever. Its stop is pending, so it runs nothing of its own: the sweep counts it
// stopped instead of passing over /proc a thousand times (18 s of a blocked supervisor).
import assert from 'node:assert/strict'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { identify } from '../../src/host/signal.js'
import { descendants, freezeSandbox, type Seen, thawSandbox } from '../../src/run/process-tree.js'
import { projectDir, ROOT } from '../helpers.js'

const state = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
}

describe('freeze without a cgroup', () => {
  test('a vfork parent stuck in D counts as stopped once its SIGSTOP is pending', async (t) => {
    const bin = join(projectDir(), 'vfork-stuck')
    if (!existsSync(bin)) execFileSync('cc', ['-O2', '-o', bin, join(ROOT, 'test', 'run', 'vfork-stuck.c')])
    // 200 idle siblings make each pass over the tree cost what a busy sandbox's does.
    const script = `${bin} & for i in $(seq 200); do sleep 600 & done; wait`
    const root: ChildProcess = spawn('sh', ['-c', script], { stdio: 'ignore' })
    const id = identify([root.pid!])[0]!
    t.after(() => {
      for (const pid of descendants(id).reverse())
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      root.kill('SIGKILL')
    })
    let tree: number[] = []
    for (let i = 0; i < 100 && tree.length < 203; i++, await sleep(50)) tree = descendants(id)
    const parent = tree.find((pid) => state(pid) === 'D')
    assert.ok(parent, 'the vfork parent waits in D')

    const started = Date.now()
    assert.equal(freezeSandbox(undefined, id), 'SIGSTOP (no cgroup)')
    const took = Date.now() - started
    assert.ok(took < 4000, `the freeze took ${took} ms`)
    const seen = new Map<number, Seen>()
    for (const pid of descendants(id, seen)) if (pid !== parent) assert.equal(seen.get(pid)?.state, 'T')
    assert.equal(state(parent), 'D')
    thawSandbox(undefined, id)
  })
})
