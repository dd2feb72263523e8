// A freeze without a cgroup (a plain user's sandbox) is a request to the sandbox's init, which
// stops its pid namespace at once (native/command.h FREEZE_SIGNAL). The request used to be the
// signal itself, and a sandbox that can signal its pid 1 (no Landlock signal scope: kernels
// before 6.12, or a policy without it) queued forged ones faster than init took them: the real
// one waited behind tens of thousands, the sweep stopped init first, and a program forking away
// from every pass ran on, frozen in name only. The request now travels down a pipe only the
// launcher writes; the signal only wakes init.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { CLI, isRoot, plainUserScratch, ROOT } from '../helpers.js'

describe('a freeze without a cgroup', { skip: isRoot ? false : 'needs root to create the test user' }, () => {
  test('holds against a sandbox that floods its init with forged freeze signals', async (t) => {
    // Without the signal scope the sandbox may signal its init, as on kernels before Landlock ABI 6.
    const { user, dir, env, as } = plainUserScratch(t, 'flood', (dir) => {
      execFileSync('cc', ['-O2', '-o', join(dir, 'attack'), join(ROOT, 'test', 'run', 'freeze-flood.c')])
      writeFileSync(
        join(dir, 'policy.yaml'),
        'extends: [default]\nlandlock:\n  scopes: [abstract-unix-socket]\n',
      )
    })
    const run = spawn(
      process.execPath,
      [CLI, 'run', '-p', 'policy.yaml', '--timeout', '30s', '--', './attack', '300', '8'],
      { cwd: dir, uid: user.uid, gid: user.gid, env, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    run.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const closed = new Promise((resolve) => run.on('close', resolve))
    let id = ''
    t.after(async () => {
      if (id) as(['kill', id])
      run.kill('SIGKILL')
      await closed
    })
    const alive = () => Math.max(-1, ...[...out.matchAll(/^alive (\d+)$/gm)].map((m) => Number(m[1])))
    // The flood needs a few seconds to queue its signals ahead of a real request.
    for (let i = 0; i < 300 && (!id || alive() < 3); i++, await sleep(100)) {
      const ps = as(['ps', '--json'])
      id ||=
        (JSON.parse(ps.stdout || '{"sandboxes":[]}') as { sandboxes: { id: string }[] }).sandboxes[0]?.id ??
        ''
    }
    assert.ok(id && alive() >= 3, `the sandbox runs and is registered: ${out}`)
    const r = as(['freeze', id])
    assert.equal(r.status, 0, r.stderr)
    // What the sandbox wrote before it stopped reaches us now (spawnSync held this event loop).
    await sleep(1500)
    const atFreeze = alive()
    await sleep(4000)
    assert.equal(alive(), atFreeze, `still running ${alive() - atFreeze} s after the freeze:\n${out}`)
  })
})
