// A sandbox is in the registry before anything of its command runs (issue 23). spawn() sends the
// plan first, so that the launcher sets the sandbox up while the record is written, and lets the
// command run only with a go byte after it (native/launcher.c await_go): `cordon ps`, `freeze`
// and `kill` never miss a command that has started. Seen in the syscalls of the supervisor and
// its launcher: the record's rename comes before the go's write and the command's execve.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { canStrace, ROOT } from '../helpers.js'

test(
  'spawn() writes the registry record before the go, and the command starts after both',
  { skip: canStrace() ? false : 'needs strace, allowed to trace' },
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-order-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const script = `const { spawn } = await import(${JSON.stringify(join(ROOT, 'build', 'src', 'index.js'))})
const r = await spawn({ extends: ['minimal'] }, '/bin/true', [], { stdio: 'ignore', context: { cwd: '/' } }).exited
if (r.code !== 0) throw new Error(JSON.stringify(r))`
    const log = join(dir, 'trace')
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-s',
        '4',
        '-e',
        'trace=rename,renameat,renameat2,write,writev,sendto,sendmsg,execve',
        '-o',
        log,
        process.execPath,
      ],
      { input: script, encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    assert.equal(r.status, 0, r.stderr)
    const lines = readFileSync(log, 'utf8').split('\n')
    const record = lines.findIndex((l) => /rename\w*\(.*\.json"/.test(l))
    // The plan goes into the channel before the launcher is spawned (send(2), as far as the
    // socket takes it without waiting: launcher-process.ts), else by a write after it.
    const plan = lines.findIndex((l) => /(writev?|sendto|sendmsg)\(\d+, .*"CRDN/.test(l))
    // The supervisor's go, by the thread that wrote the plan: the launcher writes a "g" of its
    // own (native/launcher.c: the sync pipe that lets its child on once the ids are mapped), at
    // its own pace, which under load came before the record and failed this test in CI.
    const supervisor = plan >= 0 ? lines[plan]!.split(' ')[0] : undefined
    // strace cuts a call another thread's call interleaves: `write(20, "g", 1 <unfinished ...>`.
    const go = lines.findIndex(
      (l) => l.startsWith(`${supervisor} `) && /write\(\d+, "g", 1(\)| <unfinished)/.test(l),
    )
    const command = lines.findIndex((l) => /execve\("\/bin\/true"/.test(l))
    assert.ok(record >= 0, `no record was written:\n${lines.join('\n')}`)
    assert.ok(plan >= 0 && go >= 0, `no plan or no go was written:\n${lines.join('\n')}`)
    assert.ok(command >= 0, `the command did not run:\n${lines.join('\n')}`)
    assert.ok(record < go, `the go went out before the record:\n${lines[go]}\n${lines[record]}`)
    assert.ok(record < command, `the command started before the record:\n${lines[command]}\n${lines[record]}`)
  },
)
