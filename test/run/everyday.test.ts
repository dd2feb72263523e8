// Everyday programs in the default sandbox, as root and as a plain user: Python's
// multiprocessing needs POSIX semaphores and shared memory in a writable /dev/shm (private,
// noexec, size-limited), and a compiler, git, make, Node worker threads, a venv with pip and
// file names that are not UTF-8 work in a writable project (issue 20's workload list; the pty
// workload is test/run/tty.test.ts).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { cordon, cordonAs, ensureTestUser, hasCommand, isRoot } from '../helpers.js'

const POOL = 'import multiprocessing as m\nwith m.Pool(2) as p: print(sum(p.map(abs, range(-5, 5))))'

describe('everyday programs', () => {
  const dir = `/tmp/cordon-everyday-${process.pid}`
  mkdirSync(dir, { recursive: true })
  chmodSync(dir, 0o777)
  after(() => rmSync(dir, { recursive: true, force: true }))
  const callers = [
    { who: 'root', run: (args: string[], cwd = dir) => cordon(args, { cwd, timeout: 120_000 }) },
    ...(isRoot
      ? [
          {
            who: 'a plain user',
            run: (args: string[], cwd = dir) => cordonAs(ensureTestUser(), args, cwd, 120_000),
          },
        ]
      : []),
  ]
  for (const c of callers) {
    test(`Python multiprocessing, as ${c.who}`, { skip: !hasCommand('python3') && 'no python3' }, () => {
      const r = c.run(['run', '--', 'python3', '-c', POOL])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, '25\n')
    })

    test(`/dev/shm is private, writable but not executable, as ${c.who}`, () => {
      const name = `/dev/shm/cordon-everyday-${process.pid}`
      const r = c.run([
        'run',
        '--',
        'sh',
        '-c',
        `cp /bin/true ${name} && chmod +x ${name}; ${name}; echo rc=$?`,
      ])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /rc=126/)
      assert.ok(!existsSync(name), "the sandbox's /dev/shm is its own: nothing lands in the host's")
    })

    test(
      `cc and git in a writable project, as ${c.who}`,
      { skip: !(hasCommand('cc') && hasCommand('git')) && 'no cc or git' },
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

    // git refuses a repository whose owner shows as another uid inside (root's files show as
    // `nobody` in root's sandboxes, other users' in a plain user's), and its own fix (`git
    // config --global`) does not reach the sandbox's HOME: cordon names the per-run exception.
    test(
      `git's "dubious ownership" in another's project gets the exception that works, as ${c.who}`,
      { skip: !hasCommand('git') && 'no git' },
      () => {
        const repo = `${dir}/git-${c.who.replace(/\W/g, '')}`
        mkdirSync(repo, { recursive: true })
        assert.equal(spawnSync('git', ['init', '-q', repo]).status, 0)
        const refused = c.run(['run', '--', 'git', 'status'], repo)
        assert.equal(refused.status, 128, refused.stderr)
        assert.match(refused.stderr, /dubious ownership[^]*cordon: hint: .*GIT_CONFIG_VALUE_0="\$PWD"/)
        const exception = [
          'GIT_CONFIG_COUNT=1',
          'GIT_CONFIG_KEY_0=safe.directory',
          `GIT_CONFIG_VALUE_0=${repo}`,
        ]
        const r = c.run(['run', ...exception.flatMap((e) => ['--env', e]), '--', 'git', 'status'], repo)
        assert.equal(r.status, 0, r.stderr)
        assert.doesNotMatch(r.stderr, /hint/)
      },
    )

    // npm under the default --net none retried for a minute and ended with EAI_AGAIN, its log
    // in the private /tmp, and nothing said the network was off (helper-134). A package manager
    // that fails fetching gets the flag; one that succeeds, fails at something else (helper-136:
    // `npm test`), is not there (127), or has the network, does not.
    test(`a package manager that fails fetching without the network is told so, as ${c.who}`, () => {
      const bin = `${dir}/net-${c.who.replace(/\W/g, '')}`
      mkdirSync(bin, { recursive: true })
      chmodSync(bin, 0o755)
      // Exits with its last argument.
      writeFileSync(`${bin}/npm`, '#!/bin/sh\nfor a; do c=$a; done; exit "$c"\n', { mode: 0o755 })
      const failed = c.run(['run', '--', './npm', 'install', '1'], bin)
      assert.equal(failed.status, 1, failed.stderr)
      assert.match(
        failed.stderr,
        /hint: if it needed the network: the sandbox has none \(`--net none`, the default\); `--net host`/,
      )
      assert.doesNotMatch(c.run(['run', '-q', '--', './npm', 'install', '1'], bin).stderr, /hint/, '-q')
      for (const args of [
        ['--', './npm', 'install', '0'],
        ['--', './npm', 'test', '1'],
        ['--', './npm', 'install', '127'],
        ['--net', 'host', '--', './npm', 'install', '1'],
      ])
        // (An install into this read-only project may get the --rw hint instead.)
        assert.doesNotMatch(
          c.run(['run', ...args], bin).stderr,
          /hint: if it needed the network/,
          args.join(' '),
        )
    })

    // The newcomer's first failures said only `Read-only file system` (cc, git init, npm init
    // in the read-only project) and `Permission denied` (a program built in the noexec /tmp),
    // and nothing named the flag (helper-148).
    test(`a write into the read-only project, and a program run from /tmp, are told the flag, as ${c.who}`, () => {
      const sub = `${dir}/ro-${c.who.replace(/\W/g, '')}`
      mkdirSync(sub, { recursive: true })
      chmodSync(sub, 0o777)
      const readOnly =
        /hint: if it said "Read-only file system": the project is read-only in the sandbox; `--rw \.`/
      for (const args of [
        ['touch', 'made'],
        ['sh', '-c', 'echo start; touch made && echo done'],
      ]) {
        const r = c.run(['run', '--', ...args], sub)
        assert.equal(r.status, 1, r.stderr)
        assert.match(r.stderr, /Read-only file system[^]*/)
        assert.match(r.stderr, readOnly, args.join(' '))
      }
      // A write aimed outside the project names where it went, not `--rw .` (helper-152).
      const usr = c.run(['run', '--', 'touch', '/usr/cordon-made'], sub)
      assert.equal(usr.status, 1, usr.stderr)
      assert.match(
        usr.stderr,
        /hint: if it said "Read-only file system": \/usr is read-only in the sandbox; .*`--rw DIR`/,
      )
      assert.doesNotMatch(usr.stderr, /--rw \./)
      const exec = 'cp /bin/true /tmp/t && chmod +x /tmp/t && /tmp/t'
      const noexec = c.run(['run', '--', 'sh', '-c', exec], sub)
      assert.equal(noexec.status, 126, noexec.stderr)
      assert.match(
        noexec.stderr,
        /hint: if it said "Permission denied" running a program it made in \/tmp: .*`--tmpfs \/tmp`/,
      )
      // The flags it names work, and then nothing is said; nor for a failure that writes nothing.
      for (const args of [
        ['--rw', '.', '--', 'sh', '-c', 'touch made'],
        ['--tmpfs', '/tmp', '--', 'sh', '-c', exec],
        ['--', 'grep', 'absent', '/etc/hostname'],
        ['-q', '--', 'touch', 'made'],
      ]) {
        const r = c.run(['run', ...args], sub)
        assert.doesNotMatch(r.stderr, /hint/, args.join(' '))
      }
    })

    /** A fresh writable project for one test, world-writable so the plain user's sandbox can use it. */
    const project = (name: string) => {
      const sub = `${dir}/${name}-${c.who.replace(/\W/g, '')}`
      mkdirSync(sub, { recursive: true })
      chmodSync(sub, 0o777)
      return sub
    }

    test(
      `make builds a project, as ${c.who}`,
      { skip: !(hasCommand('make') && hasCommand('cc')) && 'no make or cc' },
      () => {
        const sub = project('make')
        writeFileSync(`${sub}/Makefile`, 'hello: hello.c\n\tcc -o $@ $<\n')
        writeFileSync(`${sub}/hello.c`, '#include <stdio.h>\nint main(void){puts("built");return 0;}\n')
        chmodSync(`${sub}/Makefile`, 0o666)
        chmodSync(`${sub}/hello.c`, 0o666)
        const r = c.run(['run', '--rw', sub, '--cwd', sub, '--', 'sh', '-c', 'make -s && ./hello'])
        assert.equal(r.status, 0, r.stderr)
        assert.equal(r.stdout, 'built\n')
      },
    )

    test(`Node worker threads, as ${c.who}`, () => {
      const code =
        "const {Worker}=require('worker_threads');" +
        'const w=new Worker(\'require("worker_threads").parentPort.postMessage(6*7)\',{eval:true});' +
        'w.on("message",(m)=>{console.log(m);w.terminate()})'
      const r = c.run(['run', '--', process.execPath, '-e', code])
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stdout, '42\n')
    })

    test(
      `a venv and pip install of a local package under --rw ., as ${c.who}`,
      { skip: !hasCommand('/usr/bin/python3') && 'no /usr/bin/python3' },
      () => {
        const sub = project('pip')
        // A wheel made by hand (a zip with its metadata): pip installs it offline with no build step.
        const wheel = [
          'import zipfile',
          "d = 'hello_cordon-1.0.dist-info/'",
          "files = {'hello_cordon/__init__.py': 'GREETING = \"installed\"\\n',",
          "  d + 'METADATA': 'Metadata-Version: 2.1\\nName: hello-cordon\\nVersion: 1.0\\n',",
          "  d + 'WHEEL': 'Wheel-Version: 1.0\\nGenerator: cordon-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'}",
          "with zipfile.ZipFile('hello_cordon-1.0-py3-none-any.whl', 'w') as z:",
          '    for n, t in files.items(): z.writestr(n, t)',
          "    z.writestr(d + 'RECORD', ''.join(f'{n},,\\n' for n in [*files, d + 'RECORD']))",
        ].join('\n')
        assert.equal(spawnSync('/usr/bin/python3', ['-c', wheel], { cwd: sub }).status, 0)
        spawnSync('chmod', ['-R', 'a+rwX', sub])
        const script =
          '/usr/bin/python3 -m venv venv && venv/bin/pip install -q --no-index ./hello_cordon-1.0-py3-none-any.whl ' +
          '&& venv/bin/python -c "import hello_cordon; print(hello_cordon.GREETING)"'
        const r = c.run(['run', '--rw', '.', '--env', 'HOME=/tmp', '--', 'sh', '-c', script], sub)
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stdout, /installed\n$/)
      },
    )

    test(`file names that are not UTF-8 are created and listed byte-exact, as ${c.who}`, () => {
      const sub = project('bytes')
      // \xff and \xe9 alone are not UTF-8; the sandbox must keep the bytes as they are.
      const r = c.run([
        'run',
        '--rw',
        sub,
        '--cwd',
        sub,
        '--',
        'sh',
        '-c',
        'touch "$(printf \'a\\377b\\351\')" && ls',
      ])
      assert.equal(r.status, 0, r.stderr)
      const names = readdirSync(sub, { encoding: 'buffer' })
      assert.deepEqual(
        names.map((n) => n.toString('hex')),
        [Buffer.from([0x61, 0xff, 0x62, 0xe9]).toString('hex')],
      )
    })
  }
})
