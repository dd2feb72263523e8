// Conformance: the exported systemd unit, run by real systemd (pid 1 in systemd-nspawn over an
// overlay of this host, booted once for the file). Every workload passes under the default
// profile's unit and under a learned allowlist's unit, or is a known gap; the escape probes are
// blocked; and the unit is the same on any host (issue 21, findings 1 and 2).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { cordon, ensureTestUser, LAUNCHER, projectDir, ROOT } from '../helpers.js'
import { exportPolicy } from '../../src/export/export.js'
import { loadPolicyFile } from '../../src/policy/parse.js'
import { resolvePolicy, type ResolvedPolicy } from '../../src/policy/resolve.js'
import { nspawnMissing, SystemdContainer, type UnitResult } from './nspawn.js'
import { ESCAPES, judge, knownGap, skipUnlessCi, WORKLOADS, workloadMissing } from './workloads.js'

const skip = skipUnlessCi(nspawnMissing())
const PROBES = join(ROOT, 'build', 'native')

describe('systemd conformance: exported units under systemd as pid 1', { skip }, () => {
  const project = projectDir()
  const box = new SystemdContainer()
  let n = 0
  // The plain user exists before the boot: the container sees the host's /etc/passwd as it was.
  before(
    async () =>
      skip ? undefined : (ensureTestUser(), box.boot([project, ...(ROOT.startsWith('/tmp/') ? [ROOT] : [])])),
    { timeout: 60_000 },
  )
  after(async () => {
    await box.stop()
    rmSync(project, { recursive: true, force: true })
  })

  /** Exports with `cordon export --to systemd ARGS`, starts the unit, returns both. */
  function exportAndStart(args: string[], command: string[]): UnitResult & { unit: string; gaps: string } {
    const name = `cordon-conf-${++n}`
    const out = mkdtempSync(join(project, 'unit-'))
    const r = cordon(['export', '--to', 'systemd', '--name', name, ...args, '-o', out, '--', ...command], {
      cwd: project,
    })
    assert.equal(r.status, 0, r.stderr)
    const unit = readFileSync(join(out, `${name}.service`), 'utf8')
    const files = args.includes('--wrap')
      ? [
          { path: `/etc/cordon/${name}.plan`, content: readFileSync(join(out, `${name}.plan`)) },
          { path: '/usr/local/bin/cordon-exec', content: readFileSync(LAUNCHER), mode: 0o755 },
        ]
      : []
    rmSync(out, { recursive: true })
    return { ...box.startUnit(name, unit, files), unit, gaps: r.stderr }
  }

  const noParseErrors = (r: UnitResult) => assert.doesNotMatch(r.journal, /Failed to parse system call/)

  /** Every workload's unit for one policy, started together; one test per workload. */
  function workloadSuite(consumer: 'systemd' | 'systemd-learned', policy: () => ResolvedPolicy): void {
    const runnable = WORKLOADS.filter((w) => !workloadMissing(w))
    let results = new Map<string, UnitResult & { unit: string }>()
    before(() => {
      const p = policy()
      const units = runnable.map((w) => {
        const name = `cordon-${consumer}-${runnable.indexOf(w)}`
        const request = { name, command: w.argv, arch: process.arch, image: '', uid: 0, gid: 0, cwd: project }
        const file = exportPolicy(p, 'systemd', request).files[0]!
        return { name, unit: String(file.kind === 'file' ? file.content : ''), workload: w.name }
      })
      const started = box.startUnits(units)
      results = new Map(units.map((u) => [u.workload, { ...started.get(u.name)!, unit: u.unit }]))
    })
    for (const w of WORKLOADS)
      test(w.name, { skip: workloadMissing(w) ?? false }, () => {
        const r = results.get(w.name)!
        if (consumer === 'systemd-learned') assert.match(r.unit, /^SystemCallFilter=[a-z]/m, 'an allowlist')
        const failure = judge(w, { ...r, status: r.result === 'success' ? r.status : -1 })
        const gap = knownGap(consumer, w.name)
        if (gap) assert.ok(failure, `${w.name} passes now: remove its gap (${gap.reason})`)
        else assert.equal(failure, undefined, `${failure}\njournal: ${r.journal}`)
        noParseErrors(r)
      })
  }

  describe('default profile', () =>
    workloadSuite('systemd', () =>
      resolvePolicy({ policy: { extends: ['default'] }, baseDir: project, label: 'default' }, project),
    ))

  describe('learned allowlist', () => {
    let learned = ''
    before(
      () => {
        // One learn run over every workload (a script file: learn records the command in the
        // policy); each workload then runs under the one learned allowlist.
        const runnable = WORKLOADS.filter((w) => !workloadMissing(w))
        const script = join(project, 'all-workloads.sh')
        const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`
        writeFileSync(script, `set -e\n${runnable.map((w) => w.argv.map(quote).join(' ')).join('\n')}\n`)
        learned = join(project, 'learned.yaml')
        const r = cordon(['learn', '-o', learned, '--', '/bin/bash', script], {
          cwd: project,
          timeout: 300_000,
        })
        assert.equal(r.status, 0, r.stderr)
      },
      { timeout: 300_000 },
    )
    workloadSuite('systemd-learned', () =>
      resolvePolicy({ policy: loadPolicyFile(learned), baseDir: project, label: learned }, project),
    )
    test('clone3 is listed for the threads, and RestrictNamespaces= answers it with ENOSYS', () => {
      const probe = [
        '/usr/bin/python3',
        '-c',
        'import ctypes, os, struct\nlibc = ctypes.CDLL(None, use_errno=True)\n' +
          'args = ctypes.create_string_buffer(struct.pack("8Q", 0x10000000, 0, 0, 0, 0, 0, 0, 0))\n' +
          'r = libc.syscall(435, args, 64)\nif r == 0:\n    os._exit(0)\nprint("clone3", r, ctypes.get_errno())',
      ]
      const p = resolvePolicy({ policy: loadPolicyFile(learned), baseDir: project, label: learned }, project)
      const request = {
        name: 'clone3',
        command: probe,
        arch: process.arch,
        image: '',
        uid: 0,
        gid: 0,
        cwd: project,
      }
      const file = exportPolicy(p, 'systemd', request).files[0]!
      const unit = file.kind === 'file' ? String(file.content) : ''
      assert.match(unit, /^SystemCallFilter=.*\bclone3\b/m)
      assert.match(unit, /^RestrictNamespaces=yes$/m)
      const r = box.startUnit('clone3', unit)
      assert.match(r.stdout, /^clone3 -1 38$/m, r.stderr + r.journal) // ENOSYS: libc falls back to clone
    })
  })

  test('the escape probes are blocked under the default unit', () => {
    const r = exportAndStart(['--ro', PROBES], [join(PROBES, 'cordon-probes'), ...ESCAPES])
    assert.equal(r.result, 'success', r.journal + r.stderr)
    const outcomes = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { probe: string; outcome: string })
    assert.equal(outcomes.length, ESCAPES.length, r.stdout)
    for (const o of outcomes) assert.notEqual(o.outcome, 'escaped', JSON.stringify(o))
  })

  // helper-141: /run stayed visible (the system bus, the users' session buses and runtime
  // directories, cordon's state: connectable, and writable under systemd 252), and
  // PrivateDevices= bound the host's /dev/shm, writable and executable. The view shows neither
  // (systemd's own /run/systemd/incoming, an empty read-only directory, is in every unit).
  test('the unit sees neither the host’s /run nor its /dev/shm, and its own /dev/shm is noexec', () => {
    const secret = `cordon-conf-secret-${process.pid}`
    box.run(['sh', '-c', `echo run > /run/${secret}; echo shm > /dev/shm/${secret}`])
    try {
      const r = exportAndStart(
        ['--uid', '0'],
        [
          '/bin/sh',
          '-c',
          `ls -A /run | grep -vx systemd; cat /run/${secret} /dev/shm/${secret} 2>/dev/null; ls /dev/mqueue 2>/dev/null && echo mqueue; ` +
            'cp /bin/true /dev/shm/t && /dev/shm/t && echo EXEC; echo end',
        ],
      )
      assert.equal(r.result, 'success', r.journal + r.stderr)
      assert.equal(r.stdout, 'end\n', r.stderr)
      assert.match(r.gaps, /not expressed: identity uid 0: User=0 is host root/)
    } finally {
      box.run(['rm', '-f', `/run/${secret}`, `/dev/shm/${secret}`])
    }
  })

  test('the unit does not depend on the exporting host’s top-level directories', () => {
    const marker = `/cordon-host-only-${process.pid}`
    mkdirSync(marker)
    try {
      const a = cordon(['export', '--to', 'systemd', '--name', 'same', '--', '/bin/true'], { cwd: project })
      assert.equal(a.status, 0, a.stderr)
      assert.doesNotMatch(a.stdout, new RegExp(marker))
      for (const own of ['/work', '/farm', '/old_root', '/.cordon-verify'])
        assert.ok(!a.stdout.includes(`${own}:`) && !a.stdout.includes(`-${own} `), own)
    } finally {
      rmSync(marker, { recursive: true })
    }
  })

  test('a working directory under /tmp is the project inside PrivateTmp (no 200/CHDIR)', () => {
    assert.match(project, /^\/tmp\//)
    const r = exportAndStart([], ['/bin/pwd'])
    assert.match(r.unit, /^PrivateTmp=yes$/m)
    assert.equal(r.result, 'success', r.journal)
    assert.equal(r.stdout.trim(), project)
  })

  // systemd refuses a unit whose ExecStart= is `./script.sh` (neither a name nor absolute): the
  // export makes it absolute from the working directory, where cordon run finds it. Its path
  // takes `$` as it is (variables are expanded in the arguments only), `%` doubled.
  test('a command named relative to the working directory runs', () => {
    writeFileSync(join(project, 'hello-1%$x.sh'), '#!/bin/sh\necho relative "$1"\n', { mode: 0o755 })
    const r = exportAndStart([], ['./hello-1%$x.sh', 'a$b'])
    assert.ok(r.unit.includes(`\nExecStart=${project}/hello-1%%$x.sh a$$b\n`), r.unit)
    assert.equal(r.result, 'success', r.journal)
    assert.equal(r.stdout.trim(), 'relative a$b')
  })

  test('--rw: writes work as the files’ owner (--uid), and DynamicUser= is a reported gap', () => {
    const { uid, gid } = ensureTestUser()
    const data = mkdtempSync(join(project, 'rw-'))
    spawnSync('chown', [`${uid}:${gid}`, data])
    const write = ['/bin/sh', '-c', `echo written > ${data}/f && cat ${data}/f`]
    const owner = exportAndStart(['--rw', data, '--uid', String(uid), '--gid', String(gid)], write)
    assert.equal(owner.result, 'success', owner.journal + owner.stderr)
    assert.equal(owner.stdout.trim(), 'written')
    assert.equal(statSync(join(data, 'f')).uid, uid)
    const dynamic = exportAndStart(['--rw', data], write)
    assert.match(dynamic.gaps, new RegExp(`not expressed: writable ${data}: DynamicUser= .*--uid OWNER`))
  })

  test('--memory 25% stays a share of the target’s memory', () => {
    const r = exportAndStart(['--memory', '25%'], ['/bin/true'])
    assert.match(r.unit, /^MemoryMax=25%$/m)
    assert.equal(r.result, 'success', r.journal)
    const shown = box.run(['systemctl', 'show', '-p', 'MemoryMax', `cordon-conf-${n}.service`]).stdout
    const total = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024
    const max = Number(/MemoryMax=(\d+)/.exec(shown)![1])
    assert.ok(Math.abs(max - total / 4) < total / 100, `${shown} vs ${total}`)
  })

  test('--wrap keeps the limits and the hardening that does not conflict, and runs', () => {
    const w = WORKLOADS.find((x) => x.name === 'bash pipeline')!
    const r = exportAndStart(['--wrap', '--memory', '512M', '--pids', '128'], w.argv)
    for (const line of ['MemoryMax=536870912', 'TasksMax=128', 'NoNewPrivileges=yes', 'LockPersonality=yes'])
      assert.match(r.unit, new RegExp(`^${line}$`, 'm'))
    assert.equal(judge(w, { ...r, status: r.result === 'success' ? r.status : -1 }), undefined, r.journal)
  })

  test('--net host keeps the netlink-connector guard with RestrictAddressFamilies=', () => {
    const connector = [
      '/usr/bin/python3',
      '-c',
      'import socket\ntry:\n    socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)\n    print("opened")\n' +
        'except OSError as e:\n    print("refused", e.errno)',
    ]
    const r = exportAndStart(['--net', 'host'], connector)
    assert.match(r.unit, /^RestrictAddressFamilies=(?!.*AF_NETLINK).*AF_INET/m)
    assert.equal(r.result, 'success', r.journal)
    assert.match(r.stdout, /^refused 97$/m) // EAFNOSUPPORT
    assert.match(r.gaps, /netlink \(narrower\)/)
  })

  test('--tcp-bind: the unit starts, SocketBindAllow= applied where systemd supports it', () => {
    const r = exportAndStart(['--net', 'loopback', '--tcp-bind', '8080'], ['/bin/echo', 'started'])
    assert.match(r.unit, /^SocketBindAllow=tcp:8080$/m)
    assert.match(r.unit, /^SocketBindDeny=any$/m)
    assert.equal(r.result, 'success', r.journal)
    assert.equal(r.stdout.trim(), 'started')
    assert.match(r.gaps, /not expressed: tcp connect ports: systemd cannot restrict the ports/)
  })

  test('no syscall name the target systemd cannot parse', () => {
    for (const args of [[], ['--net', 'host']]) {
      const out = mkdtempSync(join(project, 'verify-'))
      const r = cordon(['export', '--to', 'systemd', '--name', 'v', ...args, '-o', out, '--', '/bin/true'], {
        cwd: project,
      })
      assert.equal(r.status, 0, r.stderr)
      const unit = join(out, 'v.service')
      writeFileSync(unit, readFileSync(unit, 'utf8').replace(/^ExecStart=.*$/m, 'ExecStart=/bin/true'))
      const v = box.run(['systemd-analyze', 'verify', unit])
      assert.equal(v.stderr, '')
      rmSync(out, { recursive: true })
    }
  })
})
