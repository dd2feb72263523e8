// tier: unit
// The version is written in three places (package.json, the CLI, the launcher); they must agree,
// since `cordon --version` and `cordon-exec --version` are what a bug report quotes.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { cordon, LAUNCHER, ROOT } from '../helpers.js'

test('package.json, cordon --version and cordon-exec --version agree', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  assert.match(cordon(['--version']).stdout, new RegExp(`\\b${pkg.version.replace(/\./g, '\\.')}\\b`))
  assert.match(
    execFileSync(LAUNCHER, ['--version'], { encoding: 'utf8' }),
    new RegExp(`\\b${pkg.version.replace(/\./g, '\\.')}\\b`),
  )
})
