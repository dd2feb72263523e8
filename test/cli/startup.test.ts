// A plain `cordon run` loads only what it uses (issue 23): the bundled CLI, not the ~60 modules
// it is built from; no js-yaml (no YAML was read), no prom-client, no monitor; one precompiled
// seccomp filter, not the table of all of them. Seen from outside, by the files the process
// opens (strace), so that a lazy import turned static again shows here. The bundle is minified,
// so its source maps must lead a debugging stack trace back to the TypeScript.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { describe, test } from 'node:test'
import { CLI, projectDir, ROOT } from '../helpers.js'

const hasStrace = spawnSync('sh', ['-c', 'command -v strace']).status === 0

/** The package files (relative to the package) a CLI invocation opens. */
function filesOpened(args: string[]): { status: number | null; files: string[]; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-startup-'))
  try {
    const log = join(dir, 'trace')
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=open,openat',
        '-e',
        'status=successful',
        '-o',
        log,
        process.execPath,
        CLI,
        ...args,
      ],
      { cwd: projectDir(), encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    const files = new Set<string>()
    for (const m of readFileSync(log, 'utf8').matchAll(/open(?:at)?\([^"]*"([^"]+)"/g)) {
      const path = relative(ROOT, m[1]!)
      if (!path.startsWith('..')) files.add(path)
    }
    return { status: r.status, files: [...files], stderr: r.stderr }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('CLI start-up', { skip: hasStrace ? false : 'strace is not installed' }, () => {
  test('a plain cordon run loads the bundle and nothing a plain run does not use', () => {
    const { status, files, stderr } = filesOpened(['run', '--', '/bin/true'])
    assert.equal(status, 0, stderr)
    const code = files.filter((f) => f.endsWith('.js'))
    assert.ok(
      code.some((f) => f === join('build', 'src', 'cli-bundle', 'main.js')),
      `the bundle is loaded: ${code.join(', ')}`,
    )
    const unbundled = code.filter((f) => f.startsWith(join('build', 'src')) && !f.includes('cli-bundle'))
    assert.deepEqual(unbundled, [], 'no module of the unbundled build')
    for (const lazy of ['node_modules/js-yaml', 'node_modules/yaml', 'node_modules/prom-client'])
      assert.ok(!files.some((f) => f.startsWith(lazy)), `${lazy} is not loaded: ${files.join(', ')}`)
    for (const chunk of ['chunk-session-', 'chunk-metrics-', 'chunk-audit-', 'chunk-runtime-'])
      assert.ok(!code.some((f) => f.includes(chunk)), `${chunk}* is not loaded`)
    const filters = files.filter((f) => f.startsWith(join('build', 'seccomp')))
    assert.equal(filters.length, 1, `one precompiled filter read: ${filters.join(', ')}`)
    assert.match(filters[0]!, /\.bpf$/)
  })

  // The compiler is found by what its chunk defines, so that a re-split bundle still counts.
  const loadsCompiler = (files: string[]) =>
    files
      .filter((f) => f.includes('cli-bundle') && f.endsWith('.js'))
      .some((f) => /function compileSeccomp\(/.test(readFileSync(join(ROOT, f), 'utf8')))

  test('a plain cordon run reads its precompiled filter and never loads the seccomp compiler', () => {
    const { status, files, stderr } = filesOpened(['run', '--', '/bin/true'])
    assert.equal(status, 0, stderr)
    assert.ok(!loadsCompiler(files), `no chunk defining compileSeccomp: ${files.join(', ')}`)
  })

  test('a plain cordon run loads its modules from a handful of bundle files, not one per chunk', () => {
    // Node's ESM loader resolves, reads and compiles each file: the ~30 chunks esbuild made per
    // set of importers cost ~20% of a plain run's CPU (scripts/bundle-cli.mjs, one-run-chunk).
    const { status, files, stderr } = filesOpened(['run', '--', '/bin/true'])
    assert.equal(status, 0, stderr)
    const bundle = files.filter((f) => f.includes('cli-bundle') && f.endsWith('.js'))
    assert.ok(bundle.length <= 10, `${bundle.length} bundle files: ${bundle.join(', ')}`)
  })

  test('a filter that is not precompiled loads the compiler, on demand', () => {
    const policy = join(projectDir(), 'startup-rules.json')
    writeFileSync(
      policy,
      JSON.stringify({
        extends: ['default'],
        seccomp: { rules: [{ syscalls: ['mincore'], action: 'errno(EPERM)' }] },
      }),
    )
    for (const args of [
      ['run', '--watch', 'openat', '--', '/bin/true'],
      ['run', '--policy', policy, '--', '/bin/true'],
      ['plan', '--policy', policy],
    ]) {
      const { status, files, stderr } = filesOpened(args)
      assert.equal(status, 0, `${args.join(' ')}: ${stderr}`)
      assert.ok(loadsCompiler(files), `${args.join(' ')} loads the compiler`)
    }
  })

  test('a YAML policy still loads js-yaml, on demand', () => {
    const policy = join(projectDir(), 'startup-policy.yaml')
    writeFileSync(policy, 'extends: [default]\n')
    const { status, files, stderr } = filesOpened(['run', '--policy', policy, '--', '/bin/true'])
    assert.equal(status, 0, stderr)
    assert.ok(
      files.some((f) => f.startsWith('node_modules/js-yaml')),
      files.join(', '),
    )
  })

  test('under --enable-source-maps, a stack trace of the bundle names the TypeScript source', () => {
    const bundle = join(ROOT, 'build', 'src', 'cli-bundle', 'main.js')
    const r = spawnSync(
      process.execPath,
      [
        '--enable-source-maps',
        '--input-type=module',
        '-e',
        `const cli = await import(${JSON.stringify(bundle)})
process.stdout.write = () => { throw new Error('boom') }
await cli.main(['--version'])`,
      ],
      { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
    )
    assert.notEqual(r.status, 0)
    assert.match(r.stderr, /src\/cli\/main\.ts:\d+:\d+/, r.stderr)
  })
})
