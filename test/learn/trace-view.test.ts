// Issue 18, finding 6: audit and learn runs see the host's filesystem, but not its kernel knobs:
// /sys and the cgroupfs below it are read-only there, so a traced program can neither move
// itself out of its limits nor write sysfs. Learn cannot run the escape battery (it records, it
// does not judge), so both modes are checked here, as root and as a plain user.
import assert from 'node:assert/strict'
import { chmodSync, existsSync, lchownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { traceView } from '../../src/learn/learn.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { settleHostView } from '../../src/policy/wide-binds.js'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

// The options of the top mount at each place, as the traced program sees them.
const SCRIPT = [
  `awk '$5=="/sys"||$5=="/sys/fs/cgroup"||$5=="/sys/fs/cgroup/pids"||$5=="/sys/fs/cgroup/unified"{o[$5]=$6} END{for(k in o)print "MNT", k, o[k]}' /proc/self/mountinfo`,
  'echo $$ > /sys/fs/cgroup/pids/cgroup.procs && echo MOVED',
  'echo $$ > /sys/fs/cgroup/unified/cgroup.procs && echo MOVED',
  '(: > /sys/power/state) 2>/dev/null && echo POWER',
  'true',
].join('; ')

function checkView(output: string): void {
  const mounts = output.split('\n').filter((l) => l.startsWith('MNT '))
  assert.ok(
    mounts.some((l) => l.startsWith('MNT /sys ')),
    `no /sys in the view? ${output}`,
  )
  for (const l of mounts) assert.match(l, / ro,/, `writable in the traced view: ${l}`)
  assert.doesNotMatch(output, /MOVED/, 'the traced program moved itself to another cgroup')
  assert.doesNotMatch(output, /POWER/, '/sys/power/state opened for writing')
}

test('the traced view keeps /sys read-only (pure)', () => {
  const base = resolvePolicy({ policy: { extends: ['default'] }, baseDir: '/', label: 'test' })
  const view = settleHostView(traceView(base, '/srv')).filesystem
  assert.ok(
    view.some((e) => e.kind === 'bind' && e.src === '/sys' && e.dest === '/sys' && e.readOnly),
    JSON.stringify(view),
  )
})

type Runner = (args: string[]) => { status: number | null; stdout: string; stderr: string }

// A directory outside every working directory here that any caller may write: the host's root
// stays writable where the caller could write unobserved (helper-134: learn and audit failed
// such a write with EROFS, and audit reported it as "would have denied").
const OUTSIDE = `/srv/cordon-trace-out-${process.pid}`
if (isRoot) {
  mkdirSync(OUTSIDE, { recursive: true })
  chmodSync(OUTSIDE, 0o777)
  after(() => rmSync(OUTSIDE, { recursive: true, force: true }))
}

function modes(label: string, run: Runner, dir: string) {
  test(`${label}: run --audit sees /sys and cgroupfs read-only`, () => {
    const r = run(['run', '--audit', '--', 'sh', '-c', SCRIPT])
    checkView(r.stdout)
  })
  test(`${label}: learn sees /sys and cgroupfs read-only`, () => {
    const r = run(['learn', '-o', `${dir}/learned.yaml`, '--', 'sh', '-c', SCRIPT])
    assert.equal(r.status, 0, r.stderr)
    checkView(r.stdout)
  })
  // With host root's powers a writable host root is every root-owned file (/usr/bin,
  // /etc/passwd, cordon itself, a link to a setuid binary anywhere: helper-135): only the
  // working directory and the base's writable binds are writable there.
  const hostRoot = label.includes('--host-root')
  test(`${label}: learn and run --audit write outside the working directory ${hostRoot ? 'not at all' : 'as unobserved'}`, () => {
    for (const args of [
      ['run', '--audit'],
      ['learn', '-o', `${dir}/learned-outside.yaml`],
    ]) {
      const file = `${OUTSIDE}/${label.replace(/\W+/g, '-')}-${args[0]}`
      const r = run([
        ...args,
        '--',
        'sh',
        '-c',
        `true > ${file} && echo WROTE; true > ./inside && echo INSIDE`,
      ])
      assert.match(r.stdout, /INSIDE/, `${args[0]}: ${r.stderr}`)
      if (hostRoot) {
        assert.doesNotMatch(r.stdout, /WROTE/, `${args[0]}: ${r.stderr}`)
        assert.match(r.stderr, /Read-only file system/)
      } else assert.match(r.stdout, /WROTE/, `${args[0]}: ${r.stderr}`)
      assert.equal(existsSync(file), !hostRoot, file)
    }
  })
}

describe('audit and learn views (root caller)', { skip: isRoot ? false : 'needs root' }, () => {
  const dir = `/srv/cordon-trace-view-${process.pid}`
  mkdirSync(dir, { recursive: true })
  after(() => rmSync(dir, { recursive: true, force: true }))
  modes('root', (args) => cordon(args, { cwd: dir, timeout: 120_000 }), dir)
  // From `/` (a profile or policy other than the default: the project guard lets it through)
  // the working directory's writable bind was the host's root, idmapped: root's /etc/passwd
  // writable as host root (helper-136). A directory that holds shared ones is not made writable.
  test('root: learn and audit from / leave root-owned files unwritable', () => {
    for (const hostRoot of [[], ['--host-root']])
      for (const args of [
        ['run', '--audit'],
        ['learn', '-o', `${dir}/learned-root.yaml`],
      ]) {
        const r = cordon(
          [
            args[0]!,
            '--profile',
            'minimal',
            ...hostRoot,
            ...args.slice(1),
            '--',
            'sh',
            '-c',
            'test -w /etc/passwd && echo W; echo done',
          ],
          {
            cwd: '/',
            timeout: 120_000,
          },
        )
        assert.equal(r.stdout, 'done\n', `${args[0]} ${hostRoot.join('')}: ${r.stderr}`)
      }
  })
  modes(
    'root --host-root',
    (args) => cordon([args[0]!, '--host-root', ...args.slice(1)], { cwd: dir, timeout: 120_000 }),
    dir,
  )
})

describe(
  'audit and learn views without namespaces (root caller)',
  { skip: isRoot ? false : 'needs root' },
  () => {
    // No mount view: the host's / is a Landlock rule per entry, and /sys a read-only one. With
    // host root's file powers only Landlock stands between the program and the knobs.
    const dir = `/srv/cordon-trace-view-nons-${process.pid}`
    mkdirSync(dir, { recursive: true })
    after(() => rmSync(dir, { recursive: true, force: true }))
    const open =
      ': >> /sys/power/state && echo POWER; : >> /sys/fs/cgroup/pids/cgroup.procs && echo MOVED; true'
    for (const mode of [
      ['run', '--audit'],
      ['learn', '-o', `${dir}/learned.yaml`],
    ])
      test(`${mode[0]} --no-namespaces --host-root cannot open sysfs or cgroupfs knobs`, () => {
        // The gaps of this mode are accepted in so many words, or the run is refused up front.
        const ack = ['--acknowledge', 'no-view,host-root']
        const r = cordon([...mode, '--no-namespaces', '--host-root', ...ack, '--', 'sh', '-c', open], {
          cwd: dir,
          timeout: 120_000,
        })
        assert.doesNotMatch(r.stdout, /POWER|MOVED/, r.stdout + r.stderr)
        assert.match(r.stderr, /state: Permission denied/)
      })
  },
)

describe(
  'audit and learn views (plain user)',
  { skip: isRoot ? false : 'needs root to create the test user' },
  () => {
    const user = isRoot ? ensureTestUser() : { uid: 0, gid: 0 }
    // mkdtemp, not a predictable name: a link planted there would carry the chown elsewhere.
    const dir = mkdtempSync('/tmp/cordon-trace-view-user-')
    chmodSync(dir, 0o755)
    if (isRoot) lchownSync(dir, user.uid, user.gid)
    after(() => rmSync(dir, { recursive: true, force: true }))
    modes('plain user', (args) => cordonAs(user, args, dir, 120_000), dir)
  },
)
