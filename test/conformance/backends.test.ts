// Conformance: the workloads and the escape probes under cordon's own launcher (`cordon run`),
// and under the OCI runtimes that run the exported bundle and seccomp profile (`--backend runc`,
// `--backend gvisor`, which write the oci-bundle export and hand it to runc / runsc). Every
// workload passes, or is a known gap in workloads.ts with its reason and fix.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { CLI, isRoot, projectDir, ROOT } from '../helpers.js'
import {
  type Consumer,
  ESCAPES,
  has,
  judge,
  knownGap,
  skipUnlessCi,
  WORKLOADS,
  workloadMissing,
} from './workloads.js'

const PROBES = join(ROOT, 'build', 'native')

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

/** `cordon run ARGS` without blocking the event loop, so workloads run side by side. */
function cordonRun(args: string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, 'run', ...args], {
      cwd,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (status) => done({ status, stdout, stderr }))
  })
}

/** Runs jobs two at a time (the suite shares a small machine). */
async function pool<T>(jobs: (() => Promise<T>)[], width = 2): Promise<T[]> {
  const out: T[] = []
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++
      out[i] = await jobs[i]!()
    }
  }
  await Promise.all(Array.from({ length: width }, worker))
  return out
}

const CONSUMERS: { consumer: Consumer; flags: string[]; missing: () => string | undefined }[] = [
  { consumer: 'native', flags: [], missing: () => undefined },
  {
    consumer: 'runc',
    flags: ['--backend', 'runc'],
    missing: () => (!has('runc') ? 'runc is not installed (apt-get install runc)' : undefined),
  },
  {
    consumer: 'runsc',
    flags: ['--backend', 'gvisor'],
    missing: () =>
      !has('runsc')
        ? 'runsc is not installed (apt-get install runsc)'
        : !isRoot
          ? 'gVisor (runsc) needs root here'
          : undefined,
  },
]

/** clone3(CLONE_NEWUSER) through ctypes: prints `clone3 RESULT ERRNO`. */
const PY = {
  name: 'clone3',
  argv: [
    '/usr/bin/python3',
    '-c',
    'import ctypes, os, struct\n' +
      'libc = ctypes.CDLL(None, use_errno=True)\n' +
      'args = ctypes.create_string_buffer(struct.pack("QQQQQQQQ", 0x10000000, 0, 0, 0, 17, 0, 0, 0), 64)\n' +
      'r = libc.syscall(435, args, 64)\n' +
      'if r == 0:\n    os._exit(0)\n' +
      'print("clone3", r, ctypes.get_errno())',
  ],
  expect: /^clone3 -1 38$/m,
  needs: ['/usr/bin/python3'],
}

after(() => rmSync(projectDir(), { recursive: true, force: true }))

for (const { consumer, flags, missing } of CONSUMERS)
  describe(`${consumer} conformance: workloads and escape probes`, { skip: skipUnlessCi(missing()) }, () => {
    const project = join(projectDir(), consumer)
    const runnable = WORKLOADS.filter((w) => !workloadMissing(w))
    const results = new Map<string, Run>()
    let escapes: Run = { status: null, stdout: '', stderr: '' }
    before(
      async () => {
        mkdirSync(project, { recursive: true })
        const runs = await pool([
          ...runnable.map((w) => () => cordonRun([...flags, '--', ...w.argv], project)),
          () =>
            cordonRun([...flags, '--ro', PROBES, '--', join(PROBES, 'cordon-probes'), ...ESCAPES], project),
        ])
        runnable.forEach((w, i) => results.set(w.name, runs[i]!))
        escapes = runs[runs.length - 1]!
      },
      { timeout: 300_000 },
    )
    after(() => rmSync(project, { recursive: true, force: true }))

    for (const w of WORKLOADS)
      test(w.name, { skip: workloadMissing(w) ?? false }, () => {
        const failure = judge(w, results.get(w.name)!)
        const gap = knownGap(consumer, w.name)
        if (gap) assert.ok(failure, `${w.name} passes under ${consumer} now: remove its gap (${gap.reason})`)
        else assert.equal(failure, undefined, failure)
      })

    test('the escape probes are blocked', () => {
      assert.equal(escapes.status, 0, escapes.stderr)
      const outcomes = escapes.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { probe: string; outcome: string })
      assert.equal(outcomes.length, ESCAPES.length, escapes.stdout)
      for (const o of outcomes) assert.notEqual(o.outcome, 'escaped', JSON.stringify(o))
    })

    // The profile answers clone3 ENOSYS (libc falls back to clone, whose flags the filter reads).
    // runsc 2022 ignores errnoRet, so the backend leaves clone3 to the Sentry, which answers
    // ENOSYS itself (backends/runtime.ts forSentry): threads work and no namespace is made.
    test(
      'clone3, even asking for a user namespace, fails ENOSYS',
      { skip: workloadMissing(PY) ?? false },
      async () => {
        const r = await cordonRun([...flags, '--', ...PY.argv], project)
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stdout, /^clone3 -1 38$/m, r.stderr)
      },
    )
  })
