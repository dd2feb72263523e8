// A sandbox is in the registry before anything of it runs (issue 23). The launcher reads the plan
// to the length its header gives and starts at once, no longer at the writer's shutdown (which
// Node sends on its event loop's next turn, after the record): so spawn() now writes the record
// before the plan, and `cordon ps`, `freeze` and `kill` never miss a command that has started.
// Seen in the supervisor's own syscalls: the record's rename comes before the plan's write.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ROOT } from '../helpers.js'

// Installed and allowed to trace here (a container may refuse ptrace).
const hasStrace = spawnSync('strace', ['-qq', '-o', '/dev/null', '/bin/true']).status === 0

test(
  'spawn() writes the registry record before the plan',
  { skip: hasStrace ? false : 'needs strace, allowed to trace' },
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
        'trace=rename,renameat,renameat2,write,writev',
        '-o',
        log,
        process.execPath,
      ],
      { input: script, encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    assert.equal(r.status, 0, r.stderr)
    const lines = readFileSync(log, 'utf8').split('\n')
    const record = lines.findIndex((l) => /rename\w*\(.*\.json"/.test(l))
    const plan = lines.findIndex((l) => /writev?\(\d+, .*"CRDN/.test(l))
    assert.ok(record >= 0, `no record was written:\n${lines.join('\n')}`)
    assert.ok(plan >= 0, `no plan was written:\n${lines.join('\n')}`)
    assert.ok(record < plan, `the plan went out before the record:\n${lines[plan]}\n${lines[record]}`)
  },
)
