// Shell completion and the man page (issue 20, CLI): both made from the commands' --help, so
// they list what the commands accept. bash is driven for real; zsh and fish are syntax-checked
// when installed; the man page renders with man -l when man is installed.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon, projectDir } from '../helpers.js'

after(() => rmSync(projectDir(), { recursive: true, force: true }))

const timeout = 60_000
const has = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0

/** COMPREPLY for a command line typed so far (the last word is the one being completed). */
function complete(script: string, words: string[]): string[] {
  const file = join(projectDir(), 'cordon.bash')
  writeFileSync(file, script)
  const quoted = words.map((w) => `'${w}'`).join(' ')
  const r = spawnSync(
    'bash',
    [
      '-c',
      `source ${file}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _cordon; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8', cwd: projectDir() },
  )
  assert.equal(r.status, 0, r.stderr)
  return r.stdout.split('\n').filter(Boolean)
}

describe('cordon completion', () => {
  test('bash completes commands, subcommands, options and the sandboxed command', { timeout }, () => {
    const r = cordon(['completion', 'bash'], { timeout })
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(complete(r.stdout, ['cordon', 'ru']), ['run'])
    assert.ok(complete(r.stdout, ['cordon', '']).includes('completion'))
    assert.deepEqual(complete(r.stdout, ['cordon', 'run', '--pol']), ['--policy'])
    assert.deepEqual(complete(r.stdout, ['cordon', 'learn', '--for']), ['--force'])
    assert.ok(complete(r.stdout, ['cordon', 'run', '-']).includes('--gid'))
    assert.ok(complete(r.stdout, ['cordon', 'verify', '--']).includes('--quiet'))
    assert.deepEqual(complete(r.stdout, ['cordon', 'seccomp', 'dis']), ['disasm'])
    assert.deepEqual(complete(r.stdout, ['cordon', 'completion', 'z']), ['zsh'])
    // After `--`, the sandboxed command: a program from PATH, not cordon's options.
    assert.ok(complete(r.stdout, ['cordon', 'run', '--', 'ech']).includes('echo'))
    assert.ok(!complete(r.stdout, ['cordon', 'run', '--', '--pol']).includes('--policy'))
  })

  test('zsh and fish scripts are well-formed', { timeout }, () => {
    const zsh = cordon(['completion', 'zsh'], { timeout }).stdout
    assert.match(zsh, /^#compdef cordon\n/)
    assert.match(zsh, /^ {4}run\) opts=\(.*--policy/m)
    const fish = cordon(['completion', 'fish'], { timeout }).stdout
    assert.match(
      fish,
      /^complete -c cordon -n __fish_use_subcommand -a run -d 'run a command in a sandbox'$/m,
    )
    assert.match(fish, /^complete -c cordon -n '__fish_seen_subcommand_from run' -l policy -F$/m)
    for (const [shell, text, check] of [
      ['zsh', zsh, ['-n']],
      ['fish', fish, ['--no-execute']],
    ] as const) {
      if (!has(shell)) continue
      const file = join(projectDir(), `cordon.${shell}`)
      writeFileSync(file, text)
      const r = spawnSync(shell, [...check, file], { encoding: 'utf8' })
      assert.equal(r.status, 0, `${shell}: ${r.stderr}`)
    }
  })

  test('an unknown shell is a usage error', { timeout }, () => {
    const r = cordon(['completion', 'tcsh'], { timeout })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /cordon completion takes bash, zsh or fish, got `tcsh`/)
  })
})

describe('cordon man', () => {
  test('a roff page with every command’s help', { timeout }, () => {
    const r = cordon(['man'], { timeout })
    assert.equal(r.status, 0, r.stderr)
    const page = r.stdout
    assert.match(page, /^\.TH CORDON 1 "\d{4}-\d{2}" "cordon [\d.]+" "User Commands"\n/)
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'EXIT STATUS'])
      assert.match(page, new RegExp(`^\\.SH ${section}$`, 'm'))
    for (const name of ['run', 'learn', 'verify', 'check', 'completion', 'man'])
      assert.match(page, new RegExp(`^\\.SS ${name}$`, 'm'))
    // Every control line is a macro the page uses on purpose; help text never starts one.
    const macros = new Set(
      page
        .split('\n')
        .filter((l) => /^[.']/.test(l))
        .map((l) => l.split(' ')[0]),
    )
    assert.deepEqual([...macros].sort(), ['.B', '.BR', '.I', '.PP', '.SH', '.SS', '.TH', '.fi', '.nf'])
    assert.match(page, /\\-\\-policy/)
  })

  test(
    'it renders with man -l, without warnings',
    { timeout, skip: !has('man') && 'man is not installed' },
    () => {
      const file = join(projectDir(), 'cordon.1')
      assert.equal(cordon(['man', '-o', file], { timeout }).status, 0)
      const r = spawnSync('man', ['--warnings', '-l', file], {
        encoding: 'utf8',
        env: { ...process.env, MANWIDTH: '100', MANPAGER: 'cat', PAGER: 'cat' },
      })
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stderr, '')
      assert.match(r.stdout, /CORDON\(1\)/)
      assert.match(r.stdout, /-p, --policy FILE/)
      assert.match(r.stdout, /Usage: cordon learn \[options\] -o POLICY\.yaml/)
    },
  )
})
