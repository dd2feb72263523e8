// cordon-oci's C entry point (native/oci-fast.c) serves state, start, kill and delete without
// Node: each answer is compared with the TypeScript runtime's (bin/cordon-oci.cjs, as the entry
// point runs it for everything else) for the same container, and every case it leaves to Node
// must still get Node's answer.
// CORDON_OCI_FAST picks another build of the entry point (`npm run test:sanitize`: ASan).
import assert from 'node:assert/strict'
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'
import { type Bundle, CORDON_OCI, makeBundle, oci, ociSkip, waitUntil } from './bundle.js'

const FAST = process.env.CORDON_OCI_FAST || CORDON_OCI
const NODE = join(ROOT, 'bin', 'cordon-oci.cjs')
const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => existsSync(p))

const skip = ociSkip('cordon-oci creates containers as root')

const sleepUntil = (cond: () => boolean) => waitUntil(cond, 400)

/** Both runtimes' answers to args, with their --log lines (time left out). */
function both(b: Bundle, args: string[], format = 'json') {
  const run = (rt: string) => {
    const log = join(b.root, `..${rt === NODE ? 'node' : 'fast'}.log`)
    rmSync(log, { force: true })
    const r = oci(b, ['--log', log, '--log-format', format, ...args], rt)
    const lines = existsSync(log) ? readFileSync(log, 'utf8') : ''
    rmSync(log, { force: true })
    const untimed = lines.replace(/"time":"[^"]*"|time="[^"]*"/g, 'TIME')
    return { ...r, log: untimed, rawLog: lines }
  }
  return { fast: run(FAST), node: run(NODE) }
}

function assertSame(b: Bundle, args: string[], format = 'json') {
  const { fast, node } = both(b, args, format)
  assert.deepEqual(
    { status: fast.status, stdout: fast.stdout, stderr: fast.stderr, log: fast.log },
    { status: node.status, stdout: node.stdout, stderr: node.stderr, log: node.log },
    `cordon-oci ${args.join(' ')}`,
  )
  return fast
}

const recordPath = (b: Bundle, id: string) => join(b.root, id, 'state.json')

describe('cordon-oci fast path', { skip }, () => {
  test('state prints what the TypeScript runtime prints, annotations and escapes included', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.annotations = {
        'quote"back\\slash': 'line\nfeed\ttab\u0001\u001f\u007f',
        'é ü': 'ü 😀 \u2028',
        'io.kubernetes.cri.container-type': 'container',
      }
    })
    assert.equal(oci(b, ['create', 'f1']).status, 0)
    const created = assertSame(b, ['state', 'f1'])
    assert.equal(JSON.parse(created.stdout).status, 'created')
    assert.equal(oci(b, ['start', 'f1'], FAST).status, 0)
    assert.equal(JSON.parse(assertSame(b, ['state', 'f1']).stdout).status, 'running')
    assert.equal(oci(b, ['pause', 'f1']).status, 0)
    assert.equal(JSON.parse(assertSame(b, ['state', 'f1']).stdout).status, 'paused')
    // A frozen v1 group holds SIGKILL until thawed: kill thaws it.
    assert.equal(oci(b, ['kill', 'f1', 'KILL'], FAST).status, 0)
    sleepUntil(() => JSON.parse(oci(b, ['state', 'f1'], FAST).stdout).status === 'stopped')
    const stopped = JSON.parse(assertSame(b, ['state', 'f1']).stdout)
    assert.equal(stopped.status, 'stopped')
    assert.equal(stopped.pid, 0)
  })

  test('errors: the same message, status and --log line (json and text)', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    for (const format of ['json', 'text']) {
      const missing = assertSame(b, ['state', 'nope'], format)
      assert.equal(missing.status, 1)
      assert.match(missing.stderr, /^cordon-oci: container "nope" does not exist\n$/)
      assert.match(
        missing.rawLog,
        format === 'json'
          ? /^\{"level":"error","msg":"container \\"nope\\" does not exist","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\}\n$/
          : /^time="\d{4}-\d\d-\d\dT[\d:.]+Z" level=error msg="container \\"nope\\" does not exist"\n$/,
      )
    }
    assert.equal(assertSame(b, ['delete', '--force', 'nope']).status, 0)
    assert.equal(assertSame(b, ['kill', 'nope']).status, 1)
    assert.equal(oci(b, ['create', 'f2']).status, 0)
    const deleted = oci(b, ['delete', 'f2', 'extra'], FAST)
    assert.deepEqual([deleted.status, deleted.stderr], [0, ''], 'a created container is deleted')
    assert.ok(!existsSync(join(b.root, 'f2')))
    assert.equal(oci(b, ['create', 'f3']).status, 0)
    assert.equal(oci(b, ['start', 'f3'], FAST).status, 0)
    assert.match(assertSame(b, ['start', 'f3']).stderr, /cannot start container "f3" in status running/)
    assert.match(assertSame(b, ['delete', 'f3']).stderr, /cannot delete container "f3" in status running/)
    assert.equal(oci(b, ['kill', 'f3', '9'], FAST).status, 0)
    sleepUntil(() => JSON.parse(oci(b, ['state', 'f3'], FAST).stdout).status === 'stopped')
    assert.match(assertSame(b, ['kill', 'f3', 'TERM']).stderr, /container not running/)
    assert.equal(assertSame(b, ['kill', '--all', 'f3', 'TERM']).status, 0)
    // Left to Node, which answers them: flags, signals, ids and commands it does not serve.
    for (const args of [
      ['kill', 'f3', 'NOSUCH'],
      ['kill', 'f3', 'RTMIN'],
      ['state', '--help'],
      ['state'],
      ['state', '../f3'],
      ['delete', '--force=1', 'f3'],
      ['list', '-q'],
      ['--version'],
      ['--debug', 'state', 'nope'],
    ])
      assertSame(b, args)
    assert.equal(oci(b, ['delete', 'f3'], FAST).status, 0)
    assert.ok(!existsSync(join(b.root, 'f3')))
  })

  test('a record the fast path does not fully know is left to Node', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    assert.equal(oci(b, ['create', 'f4']).status, 0)
    const text = readFileSync(recordPath(b, 'f4'), 'utf8')
    const rec = JSON.parse(text) as Record<string, unknown>
    const cases: [string, string][] = [
      ['an unknown field', JSON.stringify({ ...rec, future: { a: 1 } })],
      ['an array-index annotation key', JSON.stringify({ ...rec, annotations: { b: '1', '7': '2' } })],
      ['a lone surrogate', JSON.stringify({ ...rec, owner: '\ud800' })],
      ['a duplicate key', text.replace('{', '{"owner":"x",')],
      ['deep nesting', JSON.stringify({ ...rec, future: JSON.parse('['.repeat(200) + ']'.repeat(200)) })],
      ['invalid UTF-8', text.replace('"owner":""', '"owner":"\xff"')],
      ['truncated JSON', text.slice(0, text.length / 2)],
      ['not an object', '[1]'],
      ['a wrong type', JSON.stringify({ ...rec, pid: '12' })],
      ['a fractional pid', JSON.stringify({ ...rec, pid: 1.5 })],
    ]
    for (const [name, body] of cases) {
      writeFileSync(recordPath(b, 'f4'), name === 'invalid UTF-8' ? Buffer.from(body, 'latin1') : body)
      const { fast, node } = both(b, ['state', 'f4'])
      assert.deepEqual([fast.status, fast.stdout, fast.stderr], [node.status, node.stdout, node.stderr], name)
    }
    writeFileSync(recordPath(b, 'f4'), text)
    assert.equal(oci(b, ['delete', '--force', 'f4'], FAST).status, 0)
  })

  test('mutated records: the same answer as Node, or left to it', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.annotations = { a: 'é\u0001', b: '😀' }
    })
    assert.equal(oci(b, ['create', 'f10']).status, 0)
    const text = readFileSync(recordPath(b, 'f10'))
    let seed = 24
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const bytes = [
      0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30, 0x2d, 0x75, 0x00, 0x0a, 0x80, 0xc3, 0xed, 0xff,
    ]
    for (let i = 0; i < 40; i++) {
      const m = Buffer.from(text)
      for (let k = 0; k <= rand(3); k++) m[rand(m.length)] = bytes[rand(bytes.length)]!
      writeFileSync(recordPath(b, 'f10'), i % 5 === 4 ? m.subarray(0, rand(m.length)) : m)
      const { fast, node } = both(b, ['state', 'f10'])
      assert.deepEqual(
        [fast.status, fast.stdout, fast.stderr],
        [node.status, node.stdout, node.stderr],
        m.toString('latin1'),
      )
    }
    writeFileSync(recordPath(b, 'f10'), text)
  })

  test('a pid reused by another process is never taken for the container', (t) => {
    const b = makeBundle(['sleep', '60'])
    const other = spawn('sleep', ['60'], { stdio: 'ignore' })
    t.after(() => {
      other.kill('SIGKILL')
      b.cleanup()
    })
    assert.equal(oci(b, ['create', 'f5']).status, 0)
    const rec = JSON.parse(readFileSync(recordPath(b, 'f5'), 'utf8')) as { pid: number }
    oci(b, ['kill', 'f5', 'KILL'], FAST)
    sleepUntil(() => JSON.parse(oci(b, ['state', 'f5'], FAST).stdout).status === 'stopped')
    writeFileSync(recordPath(b, 'f5'), JSON.stringify({ ...rec, pid: other.pid }))
    assert.equal(JSON.parse(oci(b, ['state', 'f5'], FAST).stdout).status, 'stopped')
    assert.match(oci(b, ['kill', 'f5', 'KILL'], FAST).stderr, /container not running/)
    assert.equal(oci(b, ['delete', '--force', 'f5'], FAST).status, 0)
    assert.equal(other.exitCode, null)
    assert.ok(existsSync(`/proc/${other.pid}`), 'the unrelated process lives')
  })

  test('kill --all reaches every process of a group larger than the descriptor limit', (t) => {
    // Each pid is pinned by a pidfd before it is signalled: with one descriptor per pid at once,
    // a group over the limit (1,100 processes under `ulimit -n 1024`) was left whole, status 0.
    const n = 150
    const b = makeBundle(['sh', '-c', `i=0; while [ $i -lt ${n} ]; do sleep 1000 & i=$((i+1)); done; wait`])
    b.write((c) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((ns) => ns.type !== 'pid')
      c.linux!.resources = { ...c.linux!.resources, pids: { limit: 1000 } }
    })
    let dir = ''
    const procs = () => readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)
    t.after(() => {
      try {
        for (const p of procs()) spawnSync('kill', ['-9', p])
      } catch {}
      oci(b, ['delete', '--force', 'f7'])
      b.cleanup()
    })
    assert.equal(oci(b, ['create', 'f7']).status, 0)
    dir = (JSON.parse(readFileSync(recordPath(b, 'f7'), 'utf8')) as { cgroupDirs: string[] }).cgroupDirs[0]!
    assert.equal(oci(b, ['start', 'f7'], FAST).status, 0)
    waitUntil(() => procs().length > n, 1000)
    assert.ok(procs().length > n, `${procs().length} processes started`)
    const k = spawnSync(
      '/bin/sh',
      ['-c', 'ulimit -n 24; exec "$0" --root "$1" kill --all f7 KILL', FAST, b.root],
      {
        encoding: 'utf8',
      },
    )
    assert.equal(k.status, 0, k.stderr)
    waitUntil(() => procs().length === 0, 500)
    assert.deepEqual(procs(), [], 'every process of the group is killed')
  })

  test('delete removes the container directory and its cgroups', (t) => {
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    b.write((c) => {
      c.linux!.cgroupsPath = `/cordon-fast-${process.pid}/f6`
    })
    assert.equal(oci(b, ['create', 'f6']).status, 0)
    const rec = JSON.parse(readFileSync(recordPath(b, 'f6'), 'utf8')) as { cgroupDirs: string[] }
    assert.ok(rec.cgroupDirs.length > 0 && rec.cgroupDirs.every((d) => existsSync(d)))
    assert.equal(oci(b, ['start', 'f6'], FAST).status, 0)
    assert.equal(oci(b, ['delete', '--force', 'f6'], FAST).status, 0)
    assert.ok(!existsSync(join(b.root, 'f6')))
    for (const d of rec.cgroupDirs) {
      assert.ok(!existsSync(d), `${d} is removed`)
      assert.ok(!existsSync(join(d, '..')), `${d}/.. (made by cordon-oci) is removed`)
    }
  })

  for (const [name, rt] of [
    ['C', FAST],
    ['Node', NODE],
  ] as const)
    test(`cgroup markers are links of one anchor; the last delete (${name}) removes them`, (t) => {
      const b = makeBundle(['sleep', '60'])
      const parent = `cordon-marks-${name}-${process.pid}`
      t.after(() => {
        for (const id of ['m1', 'm2']) oci(b, ['delete', '--force', id])
        b.cleanup()
      })
      for (const id of ['m1', 'm2']) {
        b.write((c) => {
          c.linux!.cgroupsPath = `/${parent}/${id}`
        })
        assert.equal(oci(b, ['create', id]).status, 0)
      }
      const marks = join(b.root, 'cgroups@made')
      const anchor = statSync(join(marks, '@anchor'))
      const names = readdirSync(marks).filter((n) => n !== '@anchor')
      const dirs = (id: string) =>
        (JSON.parse(readFileSync(recordPath(b, id), 'utf8')) as { cgroupDirs: string[] }).cgroupDirs
      // each container's groups, and the parents the first made (runc's cgroupfs leaves none here)
      assert.deepEqual(
        names.sort(),
        [...dirs('m1'), ...dirs('m2'), ...dirs('m1').map((d) => dirname(d))].map(encodeURIComponent).sort(),
      )
      for (const n of names) assert.equal(statSync(join(marks, n)).ino, anchor.ino, `${n} is a link`)
      assert.equal(statSync(join(marks, '@anchor')).nlink, names.length + 1)
      assert.equal(oci(b, ['delete', '--force', 'm1'], rt).status, 0)
      // m1's group and its marker go; the parents (and their markers) stay for m2
      for (const d of dirs('m2')) assert.ok(existsSync(dirname(d)), `${dirname(d)} holds m2: kept`)
      assert.equal(statSync(join(marks, '@anchor')).nlink, (2 * names.length) / 3 + 1)
      const last = dirs('m2')
      assert.equal(oci(b, ['delete', '--force', 'm2'], rt).status, 0)
      for (const d of last) assert.ok(!existsSync(dirname(d)), `${dirname(d)} is removed`)
      assert.ok(!existsSync(marks), 'no marker and no anchor left')
    })

  test('state, start, kill and delete run no Node', (t) => {
    if (!STRACE) return t.skip('needs strace (apt-get install strace)')
    if (FAST !== CORDON_OCI) return t.skip('checked on the release build')
    const b = makeBundle(['sleep', '60'])
    t.after(() => b.cleanup())
    assert.equal(oci(b, ['create', 'f7']).status, 0)
    for (const args of [
      ['state', 'f7'],
      ['start', 'f7'],
      ['kill', 'f7', 'KILL'],
      ['delete', '--force', 'f7'],
    ]) {
      const r: SpawnSyncReturns<string> = spawnSync(
        STRACE,
        ['-f', '-qq', '-e', 'trace=execve', FAST, '--root', b.root, ...args],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.equal(
        r.stderr.match(/execve\(/g)?.length,
        1,
        `${args[0]}: only the runtime's own execve\n${r.stderr}`,
      )
    }
    const mkdir = mkdtempSync(join(tmpdir(), 'cordon-oci-fast-'))
    t.after(() => rmSync(mkdir, { recursive: true, force: true }))
    const list = spawnSync(STRACE, ['-f', '-qq', '-e', 'trace=execve', FAST, '--root', mkdir, 'list'], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    assert.match(list.stderr, /execve\("[^"]*node/, 'list is left to Node')
  })
})
