// The CLI as users meet it: help, errors, check, compile + cordon-exec, plan, schema.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { policyJsonSchema } from '../../src/index.js'
import { cordon, LAUNCHER, projectDir, ROOT } from '../helpers.js'

describe('cordon CLI', () => {
  for (const cmd of ['run', 'check', 'compile', 'plan', 'schema'])
    test(`${cmd} --help prints usage and exits 0`, () => {
      const r = cordon([cmd, '--help'])
      assert.equal(r.status, 0)
      assert.match(r.stdout, /^Usage: cordon /)
    })

  test('`cordon help COMMAND` is the command’s own help; `cordon help` the overview', () => {
    const r = cordon(['help', 'run'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^Usage: cordon run /)
    assert.match(cordon(['help']).stdout, /^cordon [\d.]+ — /)
    assert.match(cordon(['help', 'nosuch']).stdout, /^cordon [\d.]+ — /)
  })

  test('unknown commands and flags are usage errors that say what to do', () => {
    // No command at all: the help is the usage error's message, on stderr (helper-113).
    const none = cordon([])
    assert.equal(none.status, 2)
    assert.equal(none.stdout, '')
    assert.match(none.stderr, /^cordon [\d.]+ — /)
    const unknown = cordon(['rnu'])
    assert.equal(unknown.status, 2)
    assert.match(unknown.stderr, /unknown command `rnu` \(did you mean `run`\?\); commands: run, /)
    // Another tool's word for one of ours (helper-152: `cordon status`).
    assert.match(cordon(['status']).stderr, /unknown command `status` \(did you mean `ps`\?\)/)
    // An option before the command (`-v` for the version): the two global ones named.
    const v = cordon(['-v'])
    assert.equal(v.status, 2)
    assert.match(
      v.stderr,
      /unknown option `-v` before the command; cordon --version \(-V\) prints the version/,
    )
    const flag = cordon(['plan', '--bogus'])
    assert.equal(flag.status, 2)
    assert.match(flag.stderr, /unknown option `--bogus`.*see cordon plan --help/)
    const run = cordon(['run', '--net', 'lan', '--', 'true'])
    assert.equal(run.status, 125)
    assert.match(run.stderr, /--net: expected one of `none`, `loopback`, `host`, got `lan`/)
  })

  test('an invalid policy file is reported with its position, exit 2 outside run', () => {
    const file = join(projectDir(), 'bad.yaml')
    writeFileSync(file, 'extends: [default]\nnetwork: lan\n')
    const r = cordon(['plan', file])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /bad\.yaml:2:10: Expected `network`/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
    // The right value in the wrong type says so ("did you mean `1`?" for "1" said nothing).
    writeFileSync(file, 'version: "1"\nextends: [default]\n')
    const quoted = cordon(['plan', file])
    assert.equal(quoted.status, 2)
    assert.match(quoted.stderr, /got `1` \(string\); write it as the number 1, without quotes/)
    // A container's `env: [FOO=bar]` is shown the form cordon takes.
    writeFileSync(file, 'extends: [default]\nenv: [FOO=bar]\n')
    const list = cordon(['plan', file])
    assert.equal(list.status, 2)
    assert.match(
      list.stderr,
      /Expected `env` to be a mapping like `\{ set: \{ FOO: bar \}, pass: \[HOME\] \}`, got array/,
    )
  })

  test('the default profile refuses to expose / or $HOME as the project', () => {
    const r = cordon(['run', '--', 'true'], { cwd: '/' })
    assert.equal(r.status, 125)
    assert.match(
      r.stderr,
      /cd into a project directory, or use --profile minimal \(it shows no directory of yours: the command runs in \/\)/,
    )
  })

  test('run --json reports events, Landlock and per-statement status as JSON lines on --events', () => {
    const file = join(projectDir(), 'cli-events.jsonl')
    const r = cordon(['run', '--json', '--events', file, '--', 'true'])
    assert.equal(r.stderr, '')
    const events = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string })
    assert.deepEqual(
      events.map((e) => e.event),
      ['landlock', 'status', 'started', 'exit', 'result'],
    )
  })

  test('check --json is versioned and says the host is usable', () => {
    const r = cordon(['check', '--json'])
    assert.equal(r.status, 0, r.stderr)
    const report = JSON.parse(r.stdout) as { version: number; usable: boolean; checks: { id: string }[] }
    assert.equal(report.version, 1)
    assert.equal(report.usable, true)
    assert.ok(report.checks.some((c) => c.id === 'landlock'))
    const statements = (JSON.parse(r.stdout) as { statements: { statement: string; status: string }[] })
      .statements
    assert.ok(statements.some((s) => s.statement === 'bind /usr' && s.status === 'full'))
    const noNs = JSON.parse(cordon(['check', '--json', '--no-namespaces']).stdout) as typeof report & {
      statements: { statement: string; status: string }[]
    }
    assert.equal(noNs.statements.find((s) => s.statement === 'bind /usr')?.status, 'partial')
  })

  test('a compiled plan runs under cordon-exec without Node', () => {
    const plan = join(projectDir(), 'web.plan')
    const c = cordon(['compile', '--hostname', 'web', '-o', plan, '--', 'hostname'])
    assert.equal(c.status, 0, c.stderr)
    // No supervisor, no cgroup: the profile's memory limit is said to be unenforced, not dropped.
    assert.match(c.stderr, /not enforced by the plan alone: limit memory /)
    const required = cordon(['compile', '--require', 'limits', '--timeout', '5s', '-o', plan])
    assert.equal(required.status, 2)
    assert.match(
      required.stderr,
      /requires its limits .* cannot enforce limit memory .*limit timeout 5s; cordon-exec makes no cgroup/,
    )
    const withDefault = spawnSync(LAUNCHER, [plan], { encoding: 'utf8' })
    assert.equal(withDefault.status, 0, withDefault.stderr)
    assert.equal(withDefault.stdout.trim(), 'web')
    const overridden = spawnSync(LAUNCHER, [plan, '--', 'sh', '-c', 'echo $$; exit 5'], { encoding: 'utf8' })
    assert.equal(overridden.status, 5)
    assert.equal(overridden.stdout.trim(), '2')
  })

  test('plan explains the operations; --json is machine-readable', () => {
    const text = cordon(['plan', '--ro', '/opt:/mnt/opt'])
    assert.equal(text.status, 0, text.stderr)
    assert.match(text.stdout, /bind\s+\/opt -> \/mnt\/opt \(ro\)/)
    assert.match(text.stdout, /layers: profile:default → flags/)
    const json = JSON.parse(cordon(['plan', '--json']).stdout) as { version: number; ops: { op: string }[] }
    assert.equal(json.version, 1)
    assert.equal(json.ops.at(-1)!.op, 'seccomp')
  })

  // Flags keep the order they were given in, as a policy's filesystem list does: the later
  // one wins at a destination (a newcomer found --ro after --rw still writable).
  test('--ro and --rw at one destination: the later flag wins', () => {
    const plan = (...flags: string[]) => {
      const r = cordon(['plan', ...flags])
      assert.equal(r.status, 0, r.stderr)
      return /bind\s+\/opt -> \/opt \((\w+)/.exec(r.stdout)?.[1]
    }
    assert.equal(plan('--rw', '/opt', '--ro', '/opt'), 'ro')
    assert.equal(plan('--ro', '/opt', '--rw', '/opt'), 'rw')
    assert.equal(plan('--ro=/opt', '--tmpfs', '/opt', '--rw', '/opt'), 'rw')
  })

  // --ro, --rw and --cwd took a path relative to the caller's directory and --tmpfs refused one
  // (a newcomer's `--tmpfs ./cache`): the default view shows that directory at the same path.
  test("--tmpfs DEST and --ro SRC:DEST relative to the caller's directory, as SRC is", () => {
    const project = projectDir()
    mkdirSync(join(project, 'cache'), { recursive: true })
    writeFileSync(join(project, 'cache', 'host-file'), '')
    const r = cordon(['run', '--tmpfs', './cache', '--', 'sh', '-c', 'touch cache/made && ls cache'], {
      cwd: project,
    })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'made\n')
    assert.ok(!existsSync(join(project, 'cache', 'made')))
    // A bind's relative destination too (`--ro SRC:DEST`), where its source was already.
    mkdirSync(join(project, 'shown'), { recursive: true })
    const bound = cordon(
      ['run', '--ro', '/usr/share:shown', '--', 'sh', '-c', `test -d ${project}/shown/doc && echo ok`],
      {
        cwd: project,
      },
    )
    assert.equal(bound.stdout, 'ok\n', bound.stderr)
    const plan = cordon(['plan', '--tmpfs', 'cache'], { cwd: project })
    assert.match(plan.stdout, new RegExp(`tmpfs\\s+${project}/cache mode`))
    // A policy file's tmpfs is a path in the sandbox, written from /: refused with the fix.
    writeFileSync(
      join(project, 'rel.yaml'),
      'version: 1\nextends: [default]\nfilesystem:\n  - tmpfs: ./cache\n',
    )
    const file = cordon(['plan', '-p', 'rel.yaml'], { cwd: project })
    assert.equal(file.status, 2)
    assert.match(
      file.stderr,
      /expected an absolute path, got `\.\/cache`; write it from \/ as seen inside the sandbox/,
    )
  })

  // check said "can sandbox this user" (exit 0) and plan listed the tmpfs as `full` for a policy
  // the run then refused (helper-125): both now ask what the run asks before it starts.
  test('check and plan say what the run would refuse, in its words; check fails for it', () => {
    const project = projectDir()
    const run = cordon(['run', '--tmpfs', './nosuch', '--', 'true'], { cwd: project })
    assert.equal(run.status, 125, run.stderr)
    const words = 'needs ' + project + '/nosuch to exist in the read-only bind'
    assert.ok(run.stderr.includes(words), run.stderr)
    const check = cordon(['check', '--tmpfs', './nosuch'], { cwd: project })
    assert.equal(check.status, 1, check.stdout)
    assert.ok(check.stdout.includes(`cordon run refuses profile default with --tmpfs here: `), check.stdout)
    assert.ok(check.stdout.includes(words), check.stdout)
    const quiet = cordon(['check', '-q', '--tmpfs', './nosuch'], { cwd: project })
    assert.equal(quiet.status, 1)
    assert.equal(quiet.stdout, '')
    assert.ok(quiet.stderr.includes(words), quiet.stderr)
    const json = JSON.parse(cordon(['check', '--json', '--tmpfs', './nosuch'], { cwd: project }).stdout) as {
      refusal?: string
    }
    assert.ok(json.refusal?.includes(words), json.refusal)
    const plan = cordon(['plan', '--tmpfs', './nosuch'], { cwd: project })
    assert.ok(plan.stderr.includes(words) || plan.stdout.includes(words), plan.stdout + plan.stderr)
    // The current directory: the run refuses to start from /tmp under the default profile; plan
    // says so, check says so without failing (a fact of where one stands, not of the host).
    const fromTmp = cordon(['check'], { cwd: '/tmp' })
    assert.ok(
      fromTmp.stdout.includes(
        'cordon run refuses to start from this directory: the default profile shows the current directory',
      ),
      fromTmp.stdout,
    )
    assert.equal(fromTmp.status, cordon(['check'], { cwd: project }).status)
    const planTmp = cordon(['plan'], { cwd: '/tmp' })
    assert.ok(
      planTmp.stdout.includes(
        'cordon run would refuse this policy here: the default profile shows the current directory',
      ),
      planTmp.stdout,
    )
  })

  test('the published schema is current and matches `cordon schema`', () => {
    const committed = readFileSync(join(ROOT, 'schema', 'policy.schema.json'), 'utf8')
    assert.equal(committed, `${JSON.stringify(policyJsonSchema(), null, 2)}\n`, 'run `npm run schema`')
    assert.equal(cordon(['schema']).stdout, committed)
  })
})
