// A program's own seccomp filter returning SECCOMP_RET_TRACE (helper-95): unobserved no tracer
// is attached and the call fails with ENOSYS, but learn's and audit's tracer took the stop for
// one of cordon's and let the call go on. cordon's own stops carry data of their own now
// (learn/trace.ts TRACER_DATA), and another filter's are answered as with no tracer.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, projectDir, ROOT } from '../helpers.js'

const hasCc = spawnSync('cc', ['--version']).status === 0

describe(
  "a program's own RET_TRACE filter",
  { skip: process.arch !== 'x64' ? 'the skip is x86_64 only (README)' : !hasCc && 'needs a C compiler' },
  () => {
    const dir = projectDir()
    const prog = join(dir, 'own-filter-trace')
    execFileSync('cc', ['-O1', '-o', prog, join(ROOT, 'test', 'learn', 'own-filter-trace.c')])
    const runs: [string, string[]][] = [
      ['run', ['run', '-q', '--', prog]],
      ['learn', ['learn', '-q', '--force', '-o', join(dir, 'own-filter.yaml'), '--', prog]],
      ['run --audit', ['run', '-q', '--audit', '--', prog]],
    ]
    for (const [name, args] of runs)
      test(`${name}: the call fails ENOSYS, as with no tracer`, () => {
        const r = cordon(args, { cwd: dir, timeout: 60_000 })
        assert.equal(r.status, 0, r.stderr)
        assert.equal(r.stdout, 'ENOSYS\n')
      })
  },
)
