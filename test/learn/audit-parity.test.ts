// Audit's "would deny" list equals what enforcement refuses. Each workload runs twice under
// strace (on the host, following every process): enforced, and with --audit. A call enforcement
// refuses is one that fails enforced and not audited (the audited run has the policy's
// identity and namespaces, so what fails there fails for reasons of its own); the audit's
// violations must name exactly those calls, by path (files) or by syscall (seccomp).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, test } from 'node:test'
import { CLI, isRoot } from '../helpers.js'

const hasStrace = spawnSync('strace', ['-V']).status === 0

interface Call {
  syscall: string
  key: string
  errno?: string
}

/** Every call of the sandbox's processes (the command and what it started), from `strace -ff`. */
function sandboxCalls(dir: string, command: string, cwd: string): Call[] {
  const files = new Map<number, string[]>()
  for (const f of readdirSync(dir))
    files.set(Number(f.split('.').pop()), readFileSync(join(dir, f), 'utf8').split('\n'))
  // The command's process: the one that executed it with a path outside cordon's build.
  const first = [...files].find(([, lines]) =>
    lines.some((l) => new RegExp(`^execve\\("[^"]*/${command}", .*\\) = 0`).test(l)),
  )?.[0]
  assert.ok(
    first,
    `no process ran ${command}: ${[...files.values()].map((l) => l.find((x) => x.startsWith('execve'))).join('\n')}`,
  )
  const calls: Call[] = []
  const queue = [first]
  const cwds = new Map<number, string>([[first, cwd]])
  while (queue.length) {
    const pid = queue.shift()!
    let here = cwds.get(pid) ?? cwd
    let started = pid !== first
    for (const line of files.get(pid) ?? []) {
      if (!started) {
        started = /^execve\(.* = 0$/.test(line)
        continue
      }
      const m = /^(\w+)\((.*)\)\s+= (-?\d+|\?)(?: (E[A-Z]+))?/.exec(line)
      if (!m) continue
      const [, syscall, args, ret, errno] = m
      if (/^(clone3?|fork|vfork)$/.test(syscall!) && Number(ret) > 0) {
        queue.push(Number(ret))
        cwds.set(Number(ret), here)
      }
      const path = /"([^"]*)"/.exec(args!)?.[1]
      if (syscall === 'chdir' && ret === '0') here = resolve(here, path!)
      calls.push({
        syscall: syscall!,
        key: path !== undefined && !/^(execve|write|read)$/.test(syscall!) ? resolve(here, path) : syscall!,
        ...(errno ? { errno } : {}),
      })
    }
  }
  return calls
}

function traced(args: string[], cwd: string): { calls: Call[]; stdout: string; stderr: string } {
  const out = mkdtempSync(join(tmpdir(), 'cordon-strace-'))
  try {
    const r = spawnSync(
      'strace',
      ['-ff', '-qq', '-e', 'signal=none', '-o', join(out, 'trace'), process.execPath, CLI, ...args],
      { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    const command = args[args.indexOf('--') + 1]!
    assert.ok(r.status !== null && r.status < 125, `cordon ${args.join(' ')}: ${r.stderr}`)
    return { calls: sandboxCalls(out, command, cwd), stdout: r.stdout, stderr: r.stderr }
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

interface Violation {
  layer: string
  what: string
}

/** What a violation names: the path of a file access, the syscall of a seccomp verdict. */
const violationKey = (v: Violation) =>
  v.layer === 'seccomp' ? v.what.replace(/\(.*$/, '') : v.what.slice(v.what.indexOf(' ') + 1)

const WORKLOADS: { name: string; command: string[] }[] = [
  { name: 'mkdir -p in the private /tmp', command: ['mkdir', '-p', '/tmp/foo/bar'] },
  { name: 'mkdir -p in the read-only project', command: ['mkdir', '-p', 'a/b/c'] },
  { name: 'mkdir -p below a directory that exists', command: ['mkdir', '-p', 'd/e'] },
  { name: 'a write that creates a file', command: ['sh', '-c', 'echo x > out'] },
  { name: 'a write to a file that exists', command: ['sh', '-c', 'echo x > keep'] },
  { name: 'two creates in one run', command: ['touch', 'n1', 'n2'] },
  { name: 'a delete', command: ['rm', '-f', 'keep'] },
  { name: 'a read of a file outside the view', command: ['cat', '/opt/cordon-audit-parity/f'] },
  { name: 'a syscall the filter refuses', command: ['unshare', '-U', 'true'] },
  // /etc/mtab -> ../proc/self/mounts: the caller's /proc/self, not the supervisor's.
  { name: 'a read through a link into /proc/self', command: ['cat', '/etc/mtab'] },
]

// Under CI, .ci/run installs strace: its absence there is a failure, not a skip.
const skip = !isRoot
  ? 'needs root (strace of the whole run)'
  : !hasStrace && process.env.CI !== 'true'
    ? 'needs strace'
    : false

describe('audit parity', { skip }, () => {
  const outside = '/opt/cordon-audit-parity'
  for (const w of WORKLOADS)
    test(`audit lists what enforcement refuses: ${w.name}`, (t) => {
      mkdirSync(outside, { recursive: true, mode: 0o755 })
      writeFileSync(join(outside, 'f'), 'x\n', { mode: 0o644 })
      const project = () => {
        const dir = mkdtempSync(join(tmpdir(), 'cordon-audit-parity-'))
        chmodSync(dir, 0o755) // the sandbox's root is not the host's: the project is world-readable
        writeFileSync(join(dir, 'keep'), 'kept\n')
        mkdirSync(join(dir, 'd'))
        return dir
      }
      const a = project()
      const b = project()
      t.after(() => {
        for (const d of [a, b, outside]) rmSync(d, { recursive: true, force: true })
      })
      const enforced = traced(['run', '--', ...w.command], a)
      const events = join(b, '..', `${b.split('/').pop()}.events.jsonl`)
      t.after(() => rmSync(events, { force: true }))
      const audited = traced(['run', '--audit', '--events', events, '--', ...w.command], b)
      // Same names in both runs: the audited project is b, the enforced one a. Audit judges
      // the calls its run made: a refusal's own error path (a message catalog opened to
      // print it) is not one of them.
      const made = new Set(audited.calls.map((c) => c.key.replace(b, a)))
      const failedAudited = new Set(
        audited.calls.filter((c) => c.errno).map((c) => `${c.key.replace(b, a)} ${c.errno}`),
      )
      const refused = new Set(
        enforced.calls
          .filter((c) => c.errno && made.has(c.key) && !failedAudited.has(`${c.key} ${c.errno}`))
          .map((c) => c.key.replace(a, '')),
      )
      const audit = readFileSync(events, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string; violations?: Violation[] })
        .find((e) => e.event === 'audit')
      assert.ok(audit?.violations, audited.stderr)
      const wouldDeny = new Set(audit.violations.map((v) => violationKey(v).replace(b, '')))
      // One finding per refused object: never two grants for one call.
      assert.equal(wouldDeny.size, audit.violations.length, JSON.stringify(audit.violations))
      assert.deepEqual(
        [...wouldDeny].sort(),
        [...refused].sort(),
        `audit: ${JSON.stringify(audit.violations)}\nenforced: ${enforced.stderr}`,
      )
    })
})
