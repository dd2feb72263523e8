// Learn, then enforce, works the first time (issue 20, finding 3): the learned policy shows its
// working directory (read-only unless the run wrote there) and records its command, so
// `cordon run -p POLICY` runs the same command in the same place, from any directory. A learn
// whose command fails writes nothing unless --force. As root and as the plain user, from a
// project directory outside /tmp and from one under /tmp (the default profile's private /tmp).
import assert from 'node:assert/strict'
import { existsSync, lchownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot, projectDir } from '../helpers.js'

after(() => rmSync(projectDir(), { recursive: true, force: true }))

const timeout = 120_000
const READ = ['sh', '-c', 'tar -cf - -C /usr/share/doc . | wc -c']
const WRITE = ['sh', '-c', 'echo hi > out.txt && cat out.txt']

type Cli = (args: string[], cwd: string) => { status: number | null; stdout: string; stderr: string }
const asRoot: Cli = (args, cwd) => cordon(args, { cwd, timeout })

function scratch(t: { after: (f: () => void) => void }, dir: string, owner?: { uid: number; gid: number }) {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true, mode: 0o755 })
  if (owner) lchownSync(dir, owner.uid, owner.gid) // never through a link planted at dir
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** learn, then run the same command with the policy, then run the policy's own command from /. */
function learnThenEnforce(cli: Cli, dir: string, command: string[]): void {
  const learned = cli(['learn', '-q', '-o', 'p.yaml', '--', ...command], dir)
  assert.equal(learned.status, 0, learned.stderr)
  const learnedOut = learned.stdout
  const yaml = readFileSync(join(dir, 'p.yaml'), 'utf8')
  assert.match(yaml, new RegExp(`^cwd: ${dir}$`, 'm'))
  assert.match(yaml, /^command: \[sh, "-c", /m)
  rmSync(join(dir, 'out.txt'), { force: true })
  const same = cli(['run', '-q', '-p', 'p.yaml', '--', ...command], dir)
  assert.equal(same.status, 0, `${same.stderr}\n${yaml}`)
  assert.equal(same.stdout, learnedOut)
  rmSync(join(dir, 'out.txt'), { force: true })
  const own = cli(['run', '-q', '-p', join(dir, 'p.yaml')], '/')
  assert.equal(own.status, 0, `${own.stderr}\n${yaml}`)
  assert.equal(own.stdout, learnedOut)
}

describe('learn then enforce', { concurrency: 1 }, () => {
  const rootOnly = !isRoot && 'needs root (and the plain user for the unprivileged case)'

  test('as root, from a project directory: read-only cwd, same command', { timeout, skip: rootOnly }, (t) => {
    const dir = scratch(t, `/srv/cordon-enforce-${process.pid}`)
    learnThenEnforce(asRoot, dir, READ)
    assert.match(readFileSync(join(dir, 'p.yaml'), 'utf8'), new RegExp(`- ro: ${dir}  # working directory`))
  })

  test('as root, from under /tmp: a run that writes in its cwd', { timeout, skip: rootOnly }, (t) => {
    const dir = scratch(t, `/tmp/cordon-enforce-${process.pid}`)
    learnThenEnforce(asRoot, dir, WRITE)
    assert.match(readFileSync(join(dir, 'p.yaml'), 'utf8'), new RegExp(`- rw: ${dir}  #`))
  })

  test('as the plain user, from under /tmp: both commands', { timeout, skip: rootOnly }, (t) => {
    const user = ensureTestUser()
    const asUser: Cli = (args, cwd) => cordonAs(user, args, cwd, timeout)
    const dir = scratch(t, `/tmp/cordon-enforce-user-${process.pid}`, user)
    learnThenEnforce(asUser, dir, READ)
    learnThenEnforce(asUser, dir, WRITE)
  })

  test('a failing command writes no policy unless --force', { timeout, skip: rootOnly }, (t) => {
    const dir = scratch(t, `/srv/cordon-enforce-fail-${process.pid}`)
    const failed = asRoot(['learn', '-o', 'p.yaml', '--', 'sh', '-c', 'exit 3'], dir)
    assert.equal(failed.status, 3)
    assert.match(failed.stderr, /exited with 3, so no policy was written.*--force/s)
    assert.equal(existsSync(join(dir, 'p.yaml')), false)
    assert.equal(existsSync(join(dir, 'p.learn.json')), false)
    const forced = asRoot(['learn', '--force', '-o', 'p.yaml', '--', 'sh', '-c', 'exit 3'], dir)
    assert.equal(forced.status, 3, forced.stderr)
    assert.equal(existsSync(join(dir, 'p.yaml')), true)
  })

  test('run -p with no command and no `command:` in the policy is a usage error', { timeout }, () => {
    const file = join(projectDir(), 'no-command.yaml')
    writeFileSync(file, 'version: 1\n')
    const r = cordon(['run', '-p', file], { timeout })
    rmSync(file)
    assert.equal(r.status, 125)
    assert.match(r.stderr, /no command given, and \S+no-command.yaml has no `command:`/)
  })
})
