// What a person reads when the command cannot start: the hint must name the likely cause. A
// program whose file is in the view but whose loader is not fails exec with ENOENT too, and a
// 0700 working directory shuts out root's sandbox (an unprivileged id range) with EACCES.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { cordon, projectDir } from '../helpers.js'

test('exec of a program without its loader in the view names the loader', () => {
  const policy = join(projectDir(), 'step-hints-loader.yaml')
  // /usr/bin alone: /usr/bin/true is there, /lib64's loader and /usr/lib's libc are not.
  writeFileSync(policy, 'version: 1\nfilesystem:\n  - ro: /usr/bin\n  - proc: /proc\n  - dev: /dev\n')
  const r = cordon(['run', '-q', '--policy', policy, '--', '/usr/bin/true'])
  assert.equal(r.status, 127, r.stderr)
  // The host says which loader (run/not-found.ts), and the binds that show its way.
  assert.match(
    r.stderr,
    /exec \/usr\/bin\/true failed: \/usr\/bin\/true is \/usr\/bin\/true on this host, and its loader \/\S+ .*is not in the sandbox's view \(.*missing\): add `--ro /,
  )
  // A bare name is looked up on PATH: a typo, most likely, and the host has none either.
  const typo = cordon(['run', '-q', '--', 'ngnix'])
  assert.equal(typo.status, 127)
  assert.match(
    typo.stderr,
    /exec ngnix failed: ngnix is not on this host either: no directory of the sandbox's PATH \(.*\) holds it \(ENOENT\)/,
  )
})

test('a 0700 working directory of root shuts out its sandbox, and the hint says the fixes', (t) => {
  if (process.getuid?.() !== 0) return t.skip('root maps its sandbox to an unprivileged id range')
  const dir = mkdtempSync(join(tmpdir(), 'cordon-hint-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  chmodSync(dir, 0o700)
  const r = cordon(['run', '-q', '--ro', dir, '--cwd', dir, '--', 'true'], { cwd: dir })
  if (r.status === 0) return t.skip('this host maps root to root in the sandbox')
  assert.match(
    r.stderr,
    /chdir .* failed: the sandbox's user may not enter the working directory.*chmod a\+rX/,
  )
})

// A newcomer's `--cwd nosuch` in the project was told to show it with `--ro`, which then failed:
// the host says it does not exist, where it would be, and what makes it.
test('a working directory that does not exist: where it would be on the host, and the fix', () => {
  const project = projectDir()
  const r = cordon(['run', '-q', '--cwd', 'nosuch', '--', 'true'], { cwd: project })
  assert.equal(r.status, 125, r.stderr)
  assert.ok(
    r.stderr.includes(
      `chdir ${project}/nosuch failed: \`ro: ${project}\` shows the host's ${project}/nosuch there, which does not exist: create it (\`mkdir -p ${project}/nosuch\`) or choose another (\`--cwd DIR\`)`,
    ),
    r.stderr,
  )
  // The fix it names works.
  const made = cordon(['run', '-q', '--cwd', 'made', '--', 'pwd'], { cwd: project })
  assert.equal(made.status, 125)
  mkdirSync(join(project, 'made'))
  const fixed = cordon(['run', '-q', '--cwd', 'made', '--', 'pwd'], { cwd: project })
  assert.equal(fixed.stdout, `${project}/made\n`, fixed.stderr)
  // A tmpfs starts empty: no host directory to make.
  const tmp = cordon(['run', '-q', '--cwd', '/tmp/x', '--', 'true'], { cwd: project })
  assert.match(tmp.stderr, /\/tmp\/x is in `tmpfs: \/tmp`, which starts empty: choose another/)
})
