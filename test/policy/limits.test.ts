// The limits catalogue (policy/limits.ts LIMITS) is the one list of limits: every limit in it
// reaches the report, the statements and every export (or is listed there as a gap), so a limit
// added to the policy and left out of a consumer fails here.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { exportPolicy } from '../../src/export/export.js'
import { formatLimit, LIMITS } from '../../src/policy/limits.js'
import { loadPolicyFile } from '../../src/policy/parse.js'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { statementStatus } from '../../src/status/statements.js'
import { cordon, projectDir } from '../helpers.js'

/** A value for each limit, as the policy writes it. A new row needs one here. */
const EXAMPLES: Record<string, string> = {
  memory: '256M',
  swap: '64M',
  pids: '64',
  cpus: '"1.5"',
  'cpu-weight': '300',
  cpuset: '"0"',
  'io-weight': '200',
  timeout: '30s',
}

const dir = projectDir()
const file = join(dir, 'limits-catalogue.yaml')
writeFileSync(
  file,
  `extends: [default]\nlimits:\n${LIMITS.map((l) => `  ${l.word}: ${EXAMPLES[l.word] ?? '?'}\n`).join('')}`,
)
const policy = () => resolvePolicy({ policy: loadPolicyFile(file), baseDir: dir, label: file }, dir)

describe('the limits catalogue', () => {
  test('every limit has an example here and a value in the resolved policy', () => {
    const p = policy()
    for (const l of LIMITS) assert.notEqual(p.limits[l.key], undefined, l.word)
  })

  test('cordon report --json lists every limit under limits', () => {
    const r = cordon(['report', '--json', file], { cwd: dir })
    assert.equal(r.status, 0, r.stderr)
    const limits = (JSON.parse(r.stdout) as { limits: Record<string, string> }).limits
    const p = policy()
    for (const l of LIMITS) assert.equal(limits[l.word], formatLimit(l, p.limits[l.key]!), l.word)
  })

  test('cordon report --cpu-weight 300 --json lists cpu-weight under limits', () => {
    const r = cordon(['report', '--cpu-weight', '300', '--json'], { cwd: dir })
    assert.equal(r.status, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as { limits: Record<string, string> }).limits['cpu-weight'], '300')
  })

  test('every cgroup limit has a statement', () => {
    const statements = statementStatus(policy(), 7, undefined, { uid: 0, cgroup: { ok: true, why: '' } })
    for (const l of LIMITS.filter((x) => x.controller))
      assert.ok(
        statements.some((s) => s.statement.startsWith(`limit ${l.word} `)),
        `${l.word}: ${statements.map((s) => s.statement).join(', ')}`,
      )
  })

  const request = {
    name: 'limits',
    command: ['true'],
    arch: process.arch,
    image: '',
    uid: 0,
    gid: 0,
    cwd: dir,
  }
  for (const target of ['docker', 'systemd', 'kubernetes', 'oci'] as const)
    test(`the ${target} export carries every limit, or lists it as a gap`, () => {
      const out = exportPolicy(policy(), target === 'oci' ? 'oci-bundle' : target, request)
      const texts = out.files.flatMap((f) =>
        f.kind === 'file' ? [{ path: f.path, text: String(f.content) }] : [],
      )
      for (const l of LIMITS) {
        const mapping = l[target]
        if (mapping === null) {
          assert.ok(
            out.gaps.some((g) => g.statement.startsWith(`limits.${l.word}`)),
            `${target} ${l.word}: no gap in ${JSON.stringify(out.gaps.map((g) => g.statement))}`,
          )
        } else if (target === 'oci') {
          const config = JSON.parse(texts.find((t) => t.path.endsWith('config.json'))!.text) as {
            linux: { resources: Record<string, unknown> }
          }
          const value = mapping
            .split('.')
            .reduce<unknown>(
              (o, k) => (o as Record<string, unknown> | undefined)?.[k],
              config.linux.resources,
            )
          assert.notEqual(value, undefined, `oci ${l.word}: linux.resources.${mapping}`)
        } else {
          const needle = target === 'kubernetes' && l.key !== 'timeoutMs' ? `${mapping}:` : mapping
          assert.ok(
            texts.some((t) => t.text.includes(needle)),
            `${target} ${l.word}: ${needle} in none of ${texts.map((t) => t.path).join(', ')}`,
          )
        }
      }
    })
})
