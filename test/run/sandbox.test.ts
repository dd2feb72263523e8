// The acceptance points of `cordon run`, against the real kernel, as root.
import assert from 'node:assert/strict'
import { userInfo } from 'node:os'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, projectDir, runSettled as run } from '../helpers.js'

const sh = (script: string, flags: string[] = []) => cordon(['run', ...flags, '--', 'sh', '-c', script])

describe('cordon run isolates the command', () => {
  test('the command is pid 2 under an init and sees no host process', () => {
    const r = sh('echo $$; ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "')
    assert.equal(r.status, 0, r.stderr)
    const [pid, visible] = r.stdout.split('\n')
    assert.equal(pid, '2')
    // init (1), sh (2), ls and grep/sort/tr helpers: all small pids of the new namespace
    for (const p of visible!.trim().split(' ').map(Number)) assert.ok(p < 20, `host pid ${p} visible`)
    assert.ok(!visible!.split(' ').includes(String(process.pid)))
  })

  test('hostname is the one asked for', () => {
    assert.equal(sh('hostname', ['--hostname', 'box']).stdout.trim(), 'box')
    assert.equal(sh('hostname').stdout.trim(), 'cordon')
  })

  test('--net none shows only lo, and it is down', () => {
    const r = sh(
      'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; cat /sys/class/net/lo/operstate 2>/dev/null; true',
    )
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), ['lo'])
  })

  test('--net loopback brings lo up and nothing else', () => {
    const r = cordon([
      'run',
      '--net',
      'loopback',
      '--',
      'python3',
      '-c',
      'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(open("/proc/net/dev").read().count(":"))',
    ])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), '1')
  })

  test('a read-only bind refuses writes with EROFS', () => {
    const r = sh('touch /usr/cordon-x; echo rc=$?')
    assert.match(r.stderr, /Read-only file system/)
    assert.match(r.stdout, /rc=1/)
    assert.equal(existsSync('/usr/cordon-x'), false)
  })

  test('the project is read-only by default and writable with --rw .', () => {
    const denied = sh('echo x > written.txt')
    assert.notEqual(denied.status, 0)
    assert.match(denied.stderr, /Read-only file system/)
    const allowed = sh('echo x > written.txt', ['--rw', '.'])
    assert.equal(allowed.status, 0, allowed.stderr)
    assert.equal(existsSync(join(projectDir(), 'written.txt')), true)
  })

  test('tmpfs is writable and vanishes after the run', () => {
    const r = sh('echo data > /tmp/inside && cat /tmp/inside && mkdir /tmp/d')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'data')
    assert.equal(existsSync('/tmp/inside'), false)
    assert.equal(existsSync('/tmp/d'), false)
  })

  // What login, su and systemd's User= set: some programs read them before getpwuid. The
  // caller's name, for a program that runs as the caller; never over the policy's own, and not
  // for another uid (its name is not the caller's to give).
  test('USER and LOGNAME name the caller for a program that runs as the caller', () => {
    const show = ['--', 'sh', '-c', 'echo "[$USER] [$LOGNAME]"']
    const me = userInfo().username
    assert.equal(cordon(['run', '-q', ...show]).stdout, `[${me}] [${me}]\n`)
    assert.equal(cordon(['run', '-q', '--env', 'USER=other', ...show]).stdout, `[other] [${me}]\n`)
    assert.equal(cordon(['run', '-q', '--uid', '4321', '--gid', '4321', ...show]).stdout, '[] []\n')
  })

  test('the environment is clean: only what the policy sets or passes', () => {
    const r = cordon(['run', '--env', 'A=1', '--pass-env', 'CORDON_PASS', '--', 'env'], {
      env: { ...process.env, CORDON_SECRET: 'leak', CORDON_PASS: 'ok' },
    })
    assert.equal(r.status, 0, r.stderr)
    const names = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('=')[0])
    assert.ok(!names.includes('CORDON_SECRET'))
    assert.match(r.stdout, /^A=1$/m)
    assert.match(r.stdout, /^CORDON_PASS=ok$/m)
    for (const n of names)
      assert.ok(
        [
          'A',
          'CORDON_PASS',
          'USER',
          'LOGNAME',
          'PATH',
          'HOME',
          'TERM',
          'LANG',
          'LANGUAGE',
          'LC_ALL',
          'LC_CTYPE',
          'LC_MESSAGES',
          'TZ',
          'COLORTERM',
          'NO_COLOR',
          'PWD',
        ].includes(n!),
        `unexpected ${n}`,
      )
  })

  test('only fds 0-2 reach the command', () => {
    const r = cordon([
      'run',
      '--',
      'python3',
      '-c',
      'import os; print(sorted(int(f) for f in os.listdir("/proc/self/fd")))',
    ])
    assert.equal(r.status, 0, r.stderr)
    // 3 is the directory listdir itself opened
    assert.equal(r.stdout.trim(), '[0, 1, 2, 3]')
  })

  test('no capabilities and no_new_privs inside', () => {
    const r = sh('grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status')
    assert.equal(r.status, 0, r.stderr)
    for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'])
      assert.match(r.stdout, new RegExp(`^${cap}:\\s+0000000000000000$`, 'm'))
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m)
    assert.match(r.stdout, /^Seccomp:\s+2$/m)
  })

  test('secrets under /etc are masked and $HOME is absent', () => {
    const r = sh(`cat /etc/shadow; ls ${process.env.HOME ?? '/root'}; echo home=$HOME`)
    assert.match(r.stderr, /\/etc\/shadow: Permission denied/)
    assert.match(r.stderr, /No such file or directory/)
    assert.match(r.stdout, /home=\/tmp/)
  })

  test('TIOCSTI is denied by the seccomp guard (EPERM, not ENOTTY)', () => {
    const r = cordon([
      'run',
      '--',
      'python3',
      '-c',
      'import fcntl,termios,errno\ntry:\n fcntl.ioctl(1, termios.TIOCSTI, b"x")\nexcept OSError as e: print(errno.errorcode[e.errno])',
    ])
    assert.equal(r.stdout.trim(), 'EPERM')
  })

  test('binds map SRC to DEST, and file/symlink/mkdir entries appear', async () => {
    const site = join(projectDir(), 'site')
    mkdirSync(site, { recursive: true })
    writeFileSync(join(site, 'index.html'), 'hello')
    const r = await run(
      {
        extends: ['default'],
        filesystem: [
          { ro: { src: site, dest: '/var/www' } },
          { file: { dest: '/etc/motd', content: 'welcome\n', mode: '0600' } },
          { symlink: { target: '/var/www/index.html', dest: '/srv/index' } },
          { mkdir: { dest: '/srv/empty', mode: '0700' } },
        ],
      },
      'sh',
      ['-c', 'cat /var/www/index.html /etc/motd /srv/index; stat -c %a /etc/motd /srv/empty'],
      { context: { cwd: projectDir() } },
    )
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'hellowelcome\nhello600\n700\n')
  })

  test('as root without a user namespace, drops to the given ids with no capabilities', async () => {
    const r = await run(
      {
        extends: ['default'],
        namespaces: { user: false },
        user: { uid: 65534, gid: 65534 },
        network: 'host',
      },
      'sh',
      ['-c', 'id -u; id -G; grep -E "^Cap(Eff|Bnd):" /proc/self/status; cat /proc/self/uid_map'],
      { context: { cwd: projectDir() } },
    )
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.equal(lines[0], '65534')
    assert.equal(lines[1], '65534', 'supplementary groups are reset to the gid')
    assert.match(r.stdout, /CapEff:\s+0{16}\nCapBnd:\s+0{16}/)
    assert.deepEqual(lines[4]!.trim().split(/\s+/), ['0', '0', '4294967295'], 'still the host user namespace')
  })
})
