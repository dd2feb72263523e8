// Installing cordon on your own project (issue 20, #1): `npm pack` makes a tarball with the C
// sources and the build step; installed into an empty project (offline, from npm's cache as
// `npm ci` left it), it builds cordon-exec and `npx cordon run` works there — the CLI, the
// cordon-exec shim and the library.
import assert from 'node:assert/strict'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'

const npmEnv = {
  ...process.env,
  NODE_EXTRA_CA_CERTS: '',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
}

function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync('npm', args, { cwd, encoding: 'utf8', env: npmEnv, timeout: 300_000 })
}

describe('npm pack, installed into an empty project', () => {
  test('the tarball builds cordon-exec on install; npx cordon run, cordon-exec and the library work', (t) => {
    const work = mkdtempSync(join(tmpdir(), 'cordon-pack-'))
    t.after(() => rmSync(work, { recursive: true, force: true }))
    // The build the tests run on (npm test builds first), as `prepack` would make it.
    const packed = npm(['pack', '--ignore-scripts', '--pack-destination', work, '--json'], ROOT)
    assert.equal(packed.status, 0, packed.stderr)
    const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }]
    const files = info.files.map((f) => f.path)
    for (const needed of [
      'native/launcher.c',
      'native/console.c',
      'native/Makefile',
      'scripts/build-native.mjs',
      'build/src/index.js',
      'build/src/cli-bundle/main.js',
      'build/src/index.d.ts',
      'bin/cordon-exec',
      // cordon-oci's C entry (built on install) hands create, run and exec to these.
      'bin/cordon-oci.cjs',
      'bin/cordon-oci.js',
      // The code-cache loader both .cjs bins require.
      'bin/code-cache.cjs',
      // Apache-2.0 (package.json) asks for its text to travel with every copy.
      'LICENSE',
      'README.md',
    ])
      assert.ok(files.includes(needed), `${needed} is in the tarball`)
    assert.ok(!files.some((f) => f.startsWith('build/native/')), 'no prebuilt binary: it is built on install')
    assert.ok(!files.some((f) => f.startsWith('build/test/')), 'no tests')

    const project = join(work, 'project')
    spawnSync('mkdir', [project])
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'my-project', version: '1.0.0', private: true, type: 'module' }),
    )
    // The packages come from npm's cache, where `npm ci` put them; only their metadata (which
    // `npm ci` does not keep) is asked of the registry `npm ci` used.
    const installed = npm(['install', '--prefer-offline', join(work, info.filename)], project)
    if (
      installed.status !== 0 &&
      /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED/.test(installed.stderr) &&
      process.env.CI !== 'true'
    ) {
      t.skip(`the npm registry is out of reach: ${installed.stderr.split('\n')[0]}`)
      return
    }
    assert.equal(installed.status, 0, installed.stderr)
    const pkg = join(project, 'node_modules', 'cordon')
    assert.ok(
      existsSync(join(pkg, 'build', 'native', 'cordon-exec')),
      `built: ${readdirSync(join(pkg, 'build'))}`,
    )

    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, NODE_EXTRA_CA_CERTS: '' }
    const run = spawnSync('npx', ['--offline', 'cordon', 'run', '--', '/bin/echo', 'hi'], {
      cwd: project,
      encoding: 'utf8',
      env,
    })
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stdout, 'hi\n')

    const exec = spawnSync(join(project, 'node_modules', '.bin', 'cordon-exec'), ['--version'], {
      encoding: 'utf8',
    })
    assert.equal(exec.status, 0, exec.stderr)
    assert.match(exec.stdout, /^cordon-exec \S+ \(plan format \d+\)/)

    // The OCI runtime an engine is pointed at: `features` is served by its Node half.
    const oci = spawnSync(join(pkg, 'build', 'native', 'cordon-oci'), ['features'], { encoding: 'utf8', env })
    assert.equal(oci.status, 0, oci.stderr)
    assert.equal(JSON.parse(oci.stdout).ociVersionMin, '1.0.0')

    writeFileSync(
      join(project, 'use.mjs'),
      "import { run } from 'cordon'\nconst r = await run({ extends: ['minimal'] }, 'sh', ['-c', 'echo lib'])\nprocess.stdout.write(r.stdout)\n",
    )
    const lib = spawnSync(process.execPath, ['use.mjs'], { cwd: project, encoding: 'utf8', env })
    assert.equal(lib.status, 0, lib.stderr)
    assert.equal(lib.stdout, 'lib\n')
  })
})
