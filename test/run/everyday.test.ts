// Everyday programs in the default sandbox, as root and as a plain user: Python's
// multiprocessing needs POSIX semaphores and shared memory in a writable /dev/shm (private,
// noexec, size-limited), and a compiler and git work in a writable project.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const POOL = 'import multiprocessing as m\nwith m.Pool(2) as p: print(sum(p.map(abs, range(-5, 5))))'

describe('everyday programs', () => {
  const dir = `/tmp/cordon-everyday-${process.pid}`
  mkdirSync(dir, { recursive: true })
  chmodSync(dir, 0o777)
  after(() => rmSync(dir, { recursive: true, force: true }))
  const callers = [
    { who: 'root', run: (args: string[]) => cordon(args, { cwd: dir, timeout: 120_000 }) },
    ...(isRoot
      ? [{ who: 'a plain user', run: (args: string[]) => cordonAs(ensureTestUser(), args, dir, 120_000) }]
      : []),
  ]
  for (const c of callers) {
    test(`Python multiprocessing, as ${c.who}`, { skip: !has('python3') && 'no python3' }, () => {
      const r = c.run(['run', '--', 'python3', '-c', POOL])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, '25\n')
    })

    test(`/dev/shm is writable but not executable, as ${c.who}`, () => {
      const r = c.run([
        'run',
        '--',
        'sh',
        '-c',
        'cp /bin/true /dev/shm/t && chmod +x /dev/shm/t; /dev/shm/t; echo rc=$?',
      ])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /rc=126/)
    })

    test(
      `cc and git in a writable project, as ${c.who}`,
      { skip: !(has('cc') && has('git')) && 'no cc or git' },
      () => {
        const script = [
          'printf "int main(void){return 7;}" > m.c && cc -o m m.c; ./m; echo cc=$?',
          'git init -q r && cd r && git -c user.email=a@b -c user.name=n commit -q --allow-empty -m x && git log --oneline | wc -l',
        ].join('; ')
        const sub = `${dir}/${c.who.replace(/\W/g, '')}`
        mkdirSync(sub, { recursive: true })
        chmodSync(sub, 0o777)
        const r = c.run(['run', '--rw', sub, '--cwd', sub, '--env', 'HOME=/tmp', '--', 'sh', '-c', script])
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stdout, /cc=7\n1\n/)
      },
    )
  }
})
