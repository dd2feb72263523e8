// Every --json output of cordon's opens with one schema field, `version` (1 today): ps, check,
// verify, policy diff and seccomp had it; advise, export and learn's summary did not.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { cordon, projectDir } from '../helpers.js'

const timeout = 120_000
const out = mkdtempSync(join(tmpdir(), 'cordon-json-version-'))
after(() => rmSync(out, { recursive: true, force: true }))

describe('--json outputs carry version', () => {
  const cases: { name: string; args: string[] }[] = [
    { name: 'advise', args: ['advise', '--json'] },
    { name: 'export', args: ['export', '--to', 'systemd', '--json', '-o', join(out, 'unit'), '--', 'true'] },
    { name: 'learn', args: ['learn', '--quiet', '--json', '-o', join(out, 'p.yaml'), '--', 'true'] },
    { name: 'ps', args: ['ps', '--json'] },
    { name: 'plan --backend runc', args: ['plan', '--backend', 'runc', '--json'] },
  ]
  for (const { name, args } of cases)
    test(`${name} --json: version 1 first`, { timeout }, () => {
      const r = cordon(args, { cwd: projectDir(), timeout })
      assert.equal(r.status, 0, r.stderr)
      const json = JSON.parse(r.stdout) as Record<string, unknown>
      assert.equal(Object.keys(json)[0], 'version', r.stdout.slice(0, 200))
      assert.equal(json.version, 1)
    })
})
