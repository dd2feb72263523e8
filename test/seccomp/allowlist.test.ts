// A policy's filter that allows only what its program calls (`default: errno(EPERM)` and an
// allowlist, as a person writes from strace or learns) must run that program: the launcher's
// own steps before the exec (marking fds close-on-exec, the signal mask) happen before the
// filter, so they need nothing from it. And a filter that refuses what every program needs is
// said, not left to a silent SIGSEGV.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { cordon, projectDir } from '../helpers.js'

const hasStrace = spawnSync('sh', ['-c', 'command -v strace']).status === 0

/** The syscalls /bin/true makes on this host (its libc decides them). */
function syscallsOfTrue(): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-allowlist-'))
  try {
    const out = join(dir, 'counts')
    const r = spawnSync('strace', ['-f', '-qq', '-c', '-o', out, '/bin/true'])
    assert.equal(r.status, 0)
    return readFileSync(out, 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/).at(-1)!)
      .filter((n) => /^[a-z_0-9]+$/.test(n) && n !== 'total' && n !== 'syscall')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('an exact allowlist runs its program', { skip: !hasStrace && 'strace is not installed' }, () => {
  const allowed = [...new Set([...syscallsOfTrue(), 'execve', 'exit_group', 'rt_sigreturn'])]
  const policy = join(projectDir(), 'allowlist-true.yaml')
  writeFileSync(
    policy,
    `version: 1\nextends: [default]\nseccomp:\n  default: errno(EPERM)\n  rules:\n    - syscalls: [${allowed.join(', ')}]\n      action: allow\n`,
  )
  const r = cordon(['run', '--policy', policy, '--', '/bin/true'])
  assert.equal(r.status, 0, `allowed ${allowed.join(' ')}: ${r.stderr}`)
  assert.doesNotMatch(r.stderr, /refuses .* for every call/)
})

test('a filter that refuses what every program needs is said', () => {
  const policy = join(projectDir(), 'allowlist-none.yaml')
  writeFileSync(policy, 'version: 1\nextends: [default]\nseccomp:\n  default: errno(EPERM)\n')
  const r = cordon(['run', '--policy', policy, '--', '/bin/true'])
  assert.notEqual(r.status, 0)
  assert.match(
    r.stderr,
    /seccomp: the filter refuses execve\/execveat, brk\/mmap, exit_group\/exit, rt_sigreturn for every call/,
  )
  // The warning is the policy's: `cordon plan` says it too, before anything runs.
  const plan = cordon(['plan', '--policy', policy])
  assert.match(plan.stderr + plan.stdout, /refuses execve\/execveat/)
  const compiled = cordon(['compile', policy, '-o', join(projectDir(), 'allowlist-none.plan')])
  assert.equal(compiled.status, 0, compiled.stderr)
  assert.match(compiled.stderr, /warning: policy: seccomp: the filter refuses execve\/execveat/)
})
