// tier: unit
// The C↔TS contracts other than the plan (test/plan/contract.test.ts): the events protocol and
// the probe table. Each has one definition in TS (run/launcher-events.ts, host/probe.ts
// PROBE_TABLE); the types below hold it to the TS side at build time, and these tests read the C
// that writes the JSON (native/events.c, native/probe.c) and hold it to the same definition, so
// a field added, renamed or dropped on one side fails here.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { EventOf, SandboxEventName, SyscallEffect } from '../../src/run/events.js'
import { EFFECT_FIELDS, LAUNCHER_EVENTS, NODE_EVENTS } from '../../src/run/launcher-events.js'
import { LAUNCHER_STEPS } from '../../src/run/launcher-steps.js'
import { type KernelProbe, PROBE_TABLE } from '../../src/host/probe.js'
import { LAUNCHER, ROOT } from '../helpers.js'

// Build-time half: every TS field is listed (the `satisfies` in the definitions checks the
// other direction, that every listed field exists). A `true` that stops compiling names the
// field or event that is missing from the definition.
type Launcher = typeof LAUNCHER_EVENTS
/** Fields spawn() adds to a launcher's event, never written by the launcher (the error's host
 * `hint`, run/not-found.ts). */
type NodeAdded = 'hint'
type Unlisted = {
  [N in keyof Launcher]: Exclude<keyof EventOf<N>, 'event' | 'syscall' | NodeAdded | Launcher[N][number]>
}[keyof Launcher]
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true
type Unclaimed = Exclude<SandboxEventName, keyof Launcher | (typeof NODE_EVENTS)[number]>
const everyEventClaimed: [Unclaimed] extends [never] ? true : Unclaimed = true
type UnlistedEffect = Exclude<keyof SyscallEffect, (typeof EFFECT_FIELDS)[number]>
const everyEffectListed: [UnlistedEffect] extends [never] ? true : UnlistedEffect = true
type UnlistedFact = Exclude<keyof KernelProbe, (typeof PROBE_TABLE)['facts'][number]>
const everyFactListed: [UnlistedFact] extends [never] ? true : UnlistedFact = true

const native = (file: string) => readFileSync(join(ROOT, 'native', file), 'utf8')
const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort()

/** C function bodies of a file, by name (top-level definitions: `type name(...)\n{ ... \n}`). */
function functions(source: string): Map<string, string> {
  return new Map(
    [...source.matchAll(/^[a-z][\w \t*]*?\b(\w+)\([^)]*\)\s*\n\{\n([\s\S]*?)^\}/gm)].map((m) => [
      m[1]!,
      m[2]!,
    ]),
  )
}

/** The JSON keys a C body writes: put_*field/put_bool/put_state names and `\"key\":` literals. */
function keysWritten(body: string): string[] {
  return [
    ...[...body.matchAll(/put_(?:int_|signal_)?field\(&?l, "(\w+)"/g)].map((m) => m[1]!),
    ...[...body.matchAll(/put_(?:bool|state)\(&?l, "(\w+)"/g)].map((m) => m[1]!),
    ...[...body.matchAll(/\\"(\w+)\\":/g)].map((m) => m[1]!),
  ].filter((k) => k !== 'event')
}

describe('events protocol: native/events.c ↔ run/launcher-events.ts', () => {
  const fns = functions(native('events.c'))
  /** Event name → keys, from every function that begins a line with `begin(&l, "NAME")`. */
  const written = new Map<string, string[]>()
  for (const body of fns.values()) {
    const name = /begin\(&l, "([\w-]+)"\)/.exec(body)?.[1]
    if (!name) continue
    const keys = keysWritten(body)
    if (/put_effect\(/.test(body)) keys.push('effect')
    // ev_denied's object key is its `kind` argument: the words audit.c gives it.
    if (/put_field\(&l, kind,/.test(body))
      for (const m of native('audit.c').matchAll(/\bkind = ([^;]+);/g))
        keys.push(...[...` ${m[1]!}`.matchAll(/(?:^ |\?|:)\s*"(\w+)"/g)].map((k) => k[1]!))
    written.set(name, sorted([...(written.get(name) ?? []), ...keys]))
  }

  test('the source parse sees the events (a broken pattern would pass everything)', () => {
    assert.ok(written.size >= 8, [...written.keys()].join(' '))
    assert.ok(everyFieldListed && everyEventClaimed && everyEffectListed)
  })

  test('the launcher writes exactly the events the definition lists', () => {
    assert.deepEqual(sorted(written.keys()), sorted(Object.keys(LAUNCHER_EVENTS)))
    for (const name of NODE_EVENTS) assert.ok(!written.has(name), `${name} is Node's, yet events.c writes it`)
  })

  for (const [name, fields] of Object.entries(LAUNCHER_EVENTS))
    test(`event ${name}: the fields events.c writes are the ones TS reads`, () => {
      assert.deepEqual(written.get(name), sorted(fields))
    })

  test('a syscall event\u2019s effect has the fields SyscallEffect declares', () => {
    const body = fns.get('put_effect')
    assert.ok(body, 'put_effect not found in events.c')
    assert.deepEqual(sorted(keysWritten(body).filter((k) => k !== 'effect')), sorted(EFFECT_FIELDS))
  })

  test('every step TS names (hints, special cases) is a step the launcher names', () => {
    // run/launcher-steps.ts is the one list; a step renamed in C loses its hint silently.
    const steps = sorted(LAUNCHER_STEPS)
    assert.ok(steps.length >= 10, steps.join(', '))
    const c = readdirSync(join(ROOT, 'native'))
      .filter((f) => f.endsWith('.c') || f.endsWith('.h'))
      .map(native)
      .join('\n')
    assert.deepEqual(
      steps.filter((s) => !c.includes(`"${s}"`)),
      [],
      'launcher-steps.ts names steps no C string names',
    )
  })
})

describe('probe table: native/probe.c ↔ host/probe.ts PROBE_TABLE', () => {
  const c = native('probe.c')
  const list = (re: RegExp) => [...c.matchAll(re)].map((m) => m[1]!)

  test('probe.c prints the version, facts and fields the table lists', () => {
    assert.ok(everyFactListed)
    assert.equal(Number(/\\"version\\":(\d+)/.exec(c)?.[1]), PROBE_TABLE.version)
    assert.deepEqual(sorted(list(/\\"(\w+)\\":/g)), sorted([...PROBE_TABLE.facts, ...PROBE_TABLE.fields]))
  })

  test('probe.c asks the namespaces, syscalls and seccomp actions the table lists', () => {
    assert.deepEqual(list(/\{ "(\w+)", CLONE_NEW\w+ \}/g), [...PROBE_TABLE.namespaces])
    assert.deepEqual(list(/print_syscall\("(\w+)"/g), [...PROBE_TABLE.syscalls])
    assert.deepEqual(list(/\{ "(\w+)", SECCOMP_RET_\w+ \}/g), [...PROBE_TABLE.seccompActions])
  })

  test('the built launcher\u2019s --probe output has the table\u2019s shape', (t) => {
    if (!existsSync(LAUNCHER)) return t.skip('no built launcher (npm run build)')
    const out = JSON.parse(execFileSync(LAUNCHER, ['--probe'], { encoding: 'utf8' })) as KernelProbe
    assert.equal(out.version, PROBE_TABLE.version)
    assert.deepEqual(Object.keys(out), [...PROBE_TABLE.facts])
    assert.deepEqual(Object.keys(out.namespaces), [...PROBE_TABLE.namespaces])
    assert.deepEqual(Object.keys(out.syscalls), [...PROBE_TABLE.syscalls])
    const actions: readonly string[] = PROBE_TABLE.seccompActions
    assert.deepEqual(
      out.seccomp.actions.filter((a) => !actions.includes(a)),
      [],
    )
  })
})
