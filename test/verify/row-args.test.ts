// A battery row's `args` are what verify evaluates the policy's filter with, to tell whether
// seccomp refused the probe's call (and whether a refusal the filter gives for some arguments
// only can be told apart). A row whose arguments are not the probe's own hides an argument rule:
// the check answers for a call nobody made. So the rows are held to the probes' real calls: the
// battery runs under strace (ptrace sees a call's arguments before seccomp judges it), and every
// row's arguments must be those of a call its probe made, position by position, pointers aside.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { spawnSync } from 'node:child_process'
import { ARG_KINDS as SHAPES } from '../../src/verify/arg-kinds.js'
import { PROBES } from '../../src/verify/battery.js'
import { canStrace, CLI, isRoot, projectDir } from '../helpers.js'

/** Calls the trace follows processes by: printed decoded, so not compared (a refusal that
 * depends on their flags is refusal.ts's to catch). */
const FORKS = ['clone', 'clone3', 'fork', 'vfork']

interface Call {
  name: string
  args: bigint[]
  /** The errno it failed with. */
  errno?: string
}

/** The calls each label's probe made (its process and every process it started), from the
 * combined output of `strace -f --pidns-translation` with the rows' calls printed raw. A child
 * may run before its parent's fork returns in the trace, so the lines are read first and the
 * processes labelled after. */
function callsByLabel(trace: string): Map<string, Call[]> {
  const pending = new Map<number, string>()
  const harnesses: { pid: number; labels: string[] }[] = [] // cordon-probes runs, by exec order
  const children = new Map<number, number[]>() // by fork order
  const callsOf = new Map<number, Call[]>()
  for (const raw of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(raw)
    if (!m) continue
    const pid = Number(m[1])
    let text = m[2]!
    if (text.endsWith(' <unfinished ...>')) {
      pending.set(pid, text.slice(0, -' <unfinished ...>'.length))
      continue
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(text)
    if (resumed) {
      text = (pending.get(pid) ?? '') + resumed[1]
      pending.delete(pid)
    }
    const call = /^(\w+)\((.*)\)\s+= (.*)$/.exec(text)
    if (!call) continue
    const [, name, args, ret] = call as unknown as [string, string, string, string]
    if (name === 'execve') {
      // The file, then argv (the environment's strings follow, past the forks' count).
      const argv = [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]!)
      if (ret.startsWith('0') && argv[0]?.endsWith('/cordon-probes') && !argv[2]?.startsWith('--'))
        harnesses.push({ pid, labels: argv.slice(2) })
      const errno = /^-1 (E[A-Z0-9]+)/.exec(ret)?.[1]
      callsOf.set(pid, [...(callsOf.get(pid) ?? []), { name, args: [], ...(errno ? { errno } : {}) }])
    } else if (/^(clone3?|fork|vfork)$/.test(name)) {
      const child = Number(/(\d+) in strace's PID NS/.exec(ret)?.[1] ?? ret.split(' ')[0])
      if (child > 0) children.set(pid, [...(children.get(pid) ?? []), child])
    } else if (name in SHAPES) {
      const errno = /^-1 (E[A-Z0-9]+)/.exec(ret)?.[1]
      const made = { name, args: args.split(', ').map((a) => BigInt(a)), ...(errno ? { errno } : {}) }
      callsOf.set(pid, [...(callsOf.get(pid) ?? []), made])
    }
  }
  const byLabel = new Map<string, Call[]>()
  const taken = new Set<number>() // a copy of the harness that a probe ran is that probe's
  const take = (pid: number, label: string) => {
    taken.add(pid)
    byLabel.set(label, [...(byLabel.get(label) ?? []), ...(callsOf.get(pid) ?? [])])
    for (const c of children.get(pid) ?? []) take(c, label)
  }
  for (const h of harnesses.filter((h) => !taken.has(h.pid)))
    (children.get(h.pid) ?? []).forEach((child, i) => h.labels[i] !== undefined && take(child, h.labels[i]))
  return byLabel
}

/** Whether `seen` is the call the row's arguments describe (zeros past those it gives, as
 * verify assumes), at every position that holds a value; an int compared in its low 32 bits,
 * where the filter's rules compare it. */
function matches(name: string, row: readonly bigint[], seen: readonly bigint[]): boolean {
  return SHAPES[name]!.split(' ').every((kind, i) => {
    if (kind !== 'v') return true
    const want = row[i] ?? 0n
    const got = seen[i] ?? 0n
    return want < 1n << 32n ? (got & 0xffffffffn) === want : got === want
  })
}

const hex = (name: string, args: readonly bigint[]) =>
  `${name}(${args.map((a) => `0x${a.toString(16)}`).join(', ')})`

interface Verdict {
  probe: string
  outcome: string
  call?: string
  errno?: string
}

const skip = !isRoot
  ? 'needs root (strace of the whole battery)'
  : !canStrace() && process.env.CI !== 'true'
    ? 'needs strace, allowed to trace'
    : false

/** The battery (`cordon verify ARGS`) under strace: each probe's calls, and verify's results. */
function tracedBattery(args: string[]): { byProbe: Map<string, Call[]>; results: Verdict[] } {
  const out = mkdtempSync(join(tmpdir(), 'cordon-row-args-'))
  try {
    const file = join(out, 'trace')
    const traced = Object.keys(SHAPES)
    const r = spawnSync(
      'strace',
      [
        ...['-f', '--pidns-translation', '-qq', '-v', '-s', '256', '-e', 'signal=none'],
        // `?`: a call this strace does not know (fchmodat2 before 6.6) is left out, not an error.
        ...['-e', `trace=${[...traced, 'execve', ...FORKS].map((c) => `?${c}`).join(',')}`],
        ...[
          '-e',
          `raw=${traced
            .filter((c) => c !== 'execve')
            .map((c) => `?${c}`)
            .join(',')}`,
          '-o',
          file,
        ],
        ...[process.execPath, CLI, 'verify', '--json', ...args],
      ],
      {
        cwd: projectDir(),
        encoding: 'utf8',
        timeout: 170_000,
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      },
    )
    assert.ok(
      (r.status === 0 || r.status === 1) && r.stdout.startsWith('{'),
      `verify under strace: ${r.stderr}`,
    )
    const byProbe = new Map<string, Call[]>()
    for (const [label, calls] of callsByLabel(readFileSync(file, 'utf8'))) {
      const probe = label.split('=')[0]!
      byProbe.set(probe, [...(byProbe.get(probe) ?? []), ...calls])
    }
    return { byProbe, results: (JSON.parse(r.stdout) as { results: Verdict[] }).results }
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

for (const mode of [[], ['--no-namespaces', '--acknowledge', 'no-view']])
  test(
    `the filter is asked about the call each probe made${mode.length ? ` (${mode.join(' ')})` : ''}`,
    { skip, timeout: 180_000 },
    () => {
      const { byProbe, results } = tracedBattery(mode)
      const wrong: string[] = []
      // The call a blocked probe names is the one verify evaluates the filter for, with its
      // row's arguments: a failing call of that name, with that errno, must be made with them.
      for (const res of results) {
        if (res.outcome !== 'blocked' || !res.call || !res.errno || FORKS.includes(res.call)) continue
        if (!(res.call in SHAPES)) {
          wrong.push(`${res.probe}: names ${res.call}, which SHAPES lacks (add its arguments' kinds)`)
          continue
        }
        const row = PROBES.find((p) => p.name === res.probe)!
        if (row.arch) continue // another entry point: not this syscall table's call
        const want = row.args?.[res.call] ?? []
        const failed = (byProbe.get(res.probe) ?? []).filter(
          (c) => c.name === res.call && c.errno === res.errno,
        )
        if (!failed.length)
          wrong.push(`${res.probe}: reported ${res.call} ${res.errno}, and made no such call`)
        else if (!failed.some((c) => matches(res.call!, want, c.args)))
          wrong.push(
            `${res.probe}: row gives ${hex(res.call, want)}; the probe's refused call was ${failed.map((c) => hex(c.name, c.args)).join(' ')}`,
          )
      }
      // And a row's arguments for a call it did not report here are still a call it makes. A
      // row may give a call its probe never makes (clone, for the filter's check of another way
      // to the same attack, refusal.ts): the trace cannot hold that to anything.
      for (const row of PROBES.filter((p) => p.args && !p.arch))
        for (const [name, want] of Object.entries(row.args!).filter(([n]) => !FORKS.includes(n))) {
          const made = (byProbe.get(row.name) ?? []).filter((c) => c.name === name)
          if (made.length && !made.some((c) => matches(name, want, c.args)))
            wrong.push(
              `${row.name}: row gives ${hex(name, want)}; the probe made ${made.map((c) => hex(name, c.args)).join(' ')}`,
            )
          if (!made.length && byProbe.has(row.name) && !(name in SHAPES))
            wrong.push(`${row.name}: row gives ${name}, which SHAPES lacks`)
        }
      assert.deepEqual([...new Set(wrong)], [])
    },
  )
