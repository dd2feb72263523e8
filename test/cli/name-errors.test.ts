// A profile or file named wrong, on any flag or argument that takes one (issue 20, first hour):
// the message names the flag, says what is wrong in words (not Node's errno text) and gives the
// fix: the known names, the closest one, or how the command wants it written.
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon, projectDir } from '../helpers.js'

after(() => rmSync(projectDir(), { recursive: true, force: true }))

const timeout = 60_000
const RAW = /ENOENT|EISDIR|EACCES|no such file or directory, open|illegal operation/

describe('a profile or file named wrong', () => {
  test('--seccomp with a misspelt profile names the profiles and the closest', { timeout }, () => {
    for (const args of [
      ['run', '--', 'true'],
      ['plan'],
      ['compile', '-o', join(projectDir(), 'x.plan'), '--', 'true'],
    ]) {
      const r = cordon([...args.slice(0, 1), '--seccomp', 'strct', ...args.slice(1)], { timeout })
      assert.notEqual(r.status, 0)
      assert.match(
        r.stderr,
        /--seccomp: no profile named `strct`; did you mean `strict`\? \(profiles: default, strict, none;/,
      )
      assert.doesNotMatch(r.stderr, RAW)
    }
  })

  // Table: the flag, what it gets, and what the message must say.
  const cases: { name: string; args: string[]; want: RegExp }[] = [
    {
      name: '--seccomp, a missing file',
      args: ['plan', '--seccomp', './none.json'],
      want: /--seccomp \.\/none\.json: the file does not exist; give a profile/,
    },
    {
      name: '--seccomp, a directory',
      args: ['plan', '--seccomp', '/etc'],
      want: /--seccomp \/etc: the file is a directory, not a file/,
    },
    {
      name: '--policy, a directory',
      args: ['plan', '--policy', '/etc'],
      want: /Policy file \/etc is a directory, not a file/,
    },
    {
      name: 'POLICY, a misspelt profile',
      args: ['plan', 'defualt'],
      want: /defualt: no such policy file; did you mean the built-in profile `default` \(--profile default\)\?/,
    },
    {
      name: '--rules, a directory',
      args: ['monitor', '--rules', '/etc'],
      want: /rules file \/etc is a directory, not a file/,
    },
    {
      name: 'learn --from, a missing file',
      args: ['learn', '-o', 'x.yaml', '--from', 'none.learn.json'],
      want: /--from none\.learn\.json: the file does not exist; pass a \.learn\.json/,
    },
    {
      name: 'seccomp import, a missing profile',
      args: ['seccomp', 'import', 'none.json'],
      want: /import: the OCI profile none\.json does not exist/,
    },
    {
      name: 'policy diff, one argument',
      args: ['policy', 'diff', 'default'],
      want: /takes two policies, A and B, got 1: .*--profile.*`cordon policy diff default \.\/app\.yaml`/,
    },
    {
      name: 'policy diff --profile',
      args: ['policy', 'diff', '--profile', 'minimal', 'default'],
      want: /unknown option `--profile`: name each as it is/,
    },
    {
      name: 'policy diff, a misspelt profile',
      args: ['policy', 'diff', 'minimal', 'defualt'],
      want: /defualt: no such policy file or profile; did you mean `default`\?/,
    },
  ]
  for (const c of cases)
    test(`${c.name}: ${c.args.join(' ')}`, { timeout }, () => {
      const r = cordon(c.args, { timeout })
      assert.notEqual(r.status, 0)
      assert.match(r.stderr, c.want)
      assert.doesNotMatch(r.stderr, RAW)
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    })

  test('a profile named as POLICY is that profile, as in policy diff', { timeout }, () => {
    const r = cordon(['plan', 'minimal', '--json'], { timeout })
    assert.equal(r.status, 0, r.stderr)
  })

  test('`extends: default` (one name, no list) is read as a list of one', { timeout }, () => {
    mkdirSync(projectDir(), { recursive: true })
    const file = join(projectDir(), 'one.yaml')
    writeFileSync(file, 'version: 1\nextends: minimal\n')
    const one = cordon(['plan', file, '--json'], { timeout })
    writeFileSync(file, 'version: 1\nextends: [minimal]\n')
    const list = cordon(['plan', file, '--json'], { timeout })
    assert.equal(one.status, 0, one.stderr)
    assert.equal(one.stdout, list.stdout)
    writeFileSync(file, 'version: 1\nextends: {minimal: 1}\n')
    const bad = cordon(['plan', file], { timeout })
    assert.match(
      bad.stderr,
      /one\.yaml:2:10: Expected `extends` to be a profile name or a policy file, or a list of them, got object/,
    )
  })
})
