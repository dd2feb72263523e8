// Issue 20 (leftover 3): completion offers an option's values, from the table its parser checks
// against (cli/option-values.ts): bash is driven for real with COMP_WORDS; zsh and fish carry
// the same lists.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { BACKENDS } from '../../src/backends/runtime.js'
import { FORMATS } from '../../src/export/model.js'
import { ALERT_FORMATS } from '../../src/monitor/falco-output.js'
import { PROFILES } from '../../src/policy/profiles.js'
import { NETWORK_MODES } from '../../src/policy/schema.js'
import { WORKLOADS } from '../../src/backends/advise.js'
import { EXPORT_ARCHES } from '../../src/cli/option-values.js'
import { cordon } from '../helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'cordon-completion-values-'))
after(() => rmSync(dir, { recursive: true, force: true }))
writeFileSync(join(dir, 'a-file'), '') // must not be offered where a value is due
const timeout = 60_000

function complete(script: string, words: string[]): string[] {
  const file = join(dir, 'cordon.bash')
  writeFileSync(file, script)
  const quoted = words.map((w) => `'${w}'`).join(' ')
  const r = spawnSync(
    'bash',
    [
      '-c',
      `source ${file}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _cordon; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8', cwd: dir },
  )
  assert.equal(r.status, 0, r.stderr)
  return r.stdout.split('\n').filter(Boolean)
}

const sorted = (a: readonly string[]) => [...a].sort()

describe('completion of option values', () => {
  test(
    'bash completes --profile, --backend, --alert-format, --to, --arch, --net, --workload and completion SHELL',
    { timeout },
    () => {
      const script = cordon(['completion', 'bash'], { timeout }).stdout
      const cases: [string[], readonly string[]][] = [
        [['cordon', 'run', '--profile', ''], Object.keys(PROFILES)],
        [['cordon', 'learn', '--profile', ''], Object.keys(PROFILES)],
        [['cordon', 'run', '--backend', ''], BACKENDS],
        [['cordon', 'verify', '--backend', ''], BACKENDS],
        [['cordon', 'monitor', '--alert-format', ''], ALERT_FORMATS],
        [['cordon', 'export', '--to', ''], FORMATS],
        [['cordon', 'export', '--arch', ''], EXPORT_ARCHES],
        // helper-116: --net and advise --workload offered file names.
        [['cordon', 'run', '--net', ''], NETWORK_MODES],
        [['cordon', 'learn', '--net', ''], NETWORK_MODES],
        [['cordon', 'advise', '--workload', ''], WORKLOADS],
        [
          ['cordon', 'completion', ''],
          ['bash', 'zsh', 'fish', '--help', '-h'],
        ],
      ]
      for (const [words, want] of cases)
        assert.deepEqual(sorted(complete(script, words)), sorted(want), words.join(' '))
      assert.deepEqual(complete(script, ['cordon', 'run', '--profile', 'mi']), ['minimal'])
      assert.ok(complete(script, ['cordon', 'seccomp', 'compile', '--arch', '']).includes('arm64'))
      // A value that is a path still completes files.
      assert.ok(complete(script, ['cordon', 'run', '--policy', 'a-']).includes('a-file'))
    },
  )

  test('zsh and fish carry the same lists', { timeout }, () => {
    const zsh = cordon(['completion', 'zsh'], { timeout }).stdout
    assert.match(
      zsh,
      new RegExp(`'run --profile'\\) compadd -- ${Object.keys(PROFILES).join(' ')}; return ;;`),
    )
    const fish = cordon(['completion', 'fish'], { timeout }).stdout
    assert.match(fish, new RegExp(`-l backend -x -a '${BACKENDS.join(' ')}'`))
  })
})
