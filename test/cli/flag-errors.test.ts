// Issue 20 (leftover 5): a flag a command does not take, or a flag's value missing, gets one
// message of ours — the flag, the fix, the command's --help — with balanced quotes, from every
// command (they all parse through cli/args.ts), never Node's parseArgs text.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cordon } from '../helpers.js'

// policy dispatches on its subcommand first (policy diff --help covers its flags).
const COMMANDS = [
  'run',
  'learn',
  'verify',
  'export',
  'advise',
  'report',
  'check',
  'compile',
  'plan',
  'ps',
  'freeze',
  'thaw',
  'monitor',
  'kill',
  'seccomp',
  'schema',
  'completion',
  'man',
  'audit',
]

const balanced = (s: string) => (s.match(/`/g) ?? []).length % 2 === 0 && !/'/.test(s.replace(/\w'\w/g, ''))

describe('flag errors', () => {
  for (const name of COMMANDS)
    test(`${name}: an unknown flag names it and the command's --help`, () => {
      const r = cordon([name, '--no-such-flag'])
      if (/unknown command/.test(r.stderr)) return // not a command of this build
      assert.equal(r.status, name === 'run' || name === 'learn' ? 125 : 2, r.stderr)
      assert.match(
        r.stderr,
        new RegExp(`^cordon: unknown option \`--no-such-flag\`( \\(.*\\))?; see cordon ${name} --help\\n$`),
      )
      assert.ok(balanced(r.stderr), r.stderr)
    })

  const cases = [
    {
      name: 'a short flag the command lacks',
      args: ['export', '-Z'],
      want: /^cordon: unknown option `-Z`; see cordon export --help\n$/,
    },
    {
      name: "a flag after a command word: likely the command's own",
      args: ['compile', '-o', 'out.plan', 'ls', '-Z'],
      want: /unknown option `-Z` \(an argument that starts with a dash goes after `--`\); see cordon compile --help/,
    },
    {
      name: 'a near miss',
      args: ['run', '--memry', '1', '--', 'true'],
      want: /unknown option `--memry` \(did you mean `--memory`\?\)/,
    },
    { name: 'a missing value', args: ['run', '--rw'], want: /`--rw` needs a value: `--rw VALUE`/ },
    { name: 'a value for a switch', args: ['verify', '--json=3'], want: /`--json` takes no value/ },
    {
      name: 'a value that starts with a dash',
      args: ['export', '-o', '-x'],
      want: /`-o` needs a value, and the next word starts with a dash: write `--output=VALUE`/,
    },
    {
      name: 'an argument where none is taken',
      args: ['ps', 'x'],
      want: /unexpected argument `x`: this command takes none; see cordon ps --help/,
    },
  ]
  for (const c of cases)
    test(c.name, () => {
      const r = cordon(c.args)
      assert.match(r.stderr, c.want)
      assert.doesNotMatch(r.stderr, /To specify|Did you forget|ERR_PARSE/)
      assert.ok(balanced(r.stderr), r.stderr)
      assert.equal(r.stderr.split('\n').length, 2, r.stderr)
    })
})
