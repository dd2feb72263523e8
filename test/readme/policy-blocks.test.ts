// The README's policies compile (its policy reference once did not: `swap: 0`, a `file:` under
// the default profile's read-only /etc). A `yaml` block right after a `<!-- policy -->` line is a
// complete policy: it is written to a fresh project directory, the relative bind sources it
// names are made there (they are the reader's own), and `cordon plan` must accept it. A `yaml`
// block that looks like a policy must carry the marker, so a new one cannot drift unchecked.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { jsYaml } from '../../src/policy/parse.js'
import { cordon, ROOT } from '../helpers.js'

interface Block {
  marked: boolean
  code: string
  line: number
}

/** Every `yaml` fenced block of the markdown, and whether a `<!-- policy -->` line precedes it. */
export function yamlBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```yaml') continue
    const end = lines.indexOf('```', i + 1)
    assert.ok(end > 0, `README.md:${i + 1}: the block has no closing fence`)
    blocks.push({
      marked: lines[i - 1] === '<!-- policy -->',
      code: lines.slice(i + 1, end).join('\n'),
      line: i + 1,
    })
    i = end
  }
  return blocks
}

/** Top-level keys only a policy has (a rules file has `rules`, `lists`, `macros`). */
const POLICY_KEYS = [
  'version',
  'extends',
  'namespaces',
  'filesystem',
  'network',
  'limits',
  'landlock',
  'seccomp',
]

const parse = (code: string): unknown => jsYaml().load(code)

/** The relative bind sources a policy names: `./site:/var/www`, `{ src: ./data }`. */
function relativeSources(policy: unknown): string[] {
  const entries = (policy as { filesystem?: unknown[] }).filesystem ?? []
  return entries.flatMap((e) => {
    const bind = (e as { ro?: unknown; rw?: unknown }).ro ?? (e as { rw?: unknown }).rw
    const src = typeof bind === 'string' ? bind.split(':')[0] : (bind as { src?: string } | undefined)?.src
    return src && !src.startsWith('/') ? [src] : []
  })
}

const blocks = yamlBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))

describe('README policies', () => {
  test('the README marks its policies, and every yaml block that looks like one is marked', () => {
    assert.ok(
      blocks.some((b) => b.marked),
      'no `<!-- policy -->` block',
    )
    for (const b of blocks.filter((x) => !x.marked)) {
      const value = parse(b.code)
      const keys = value && typeof value === 'object' ? Object.keys(value) : []
      assert.ok(
        !keys.some((k) => POLICY_KEYS.includes(k)),
        `README.md:${b.line} looks like a policy (${keys.join(', ')}): put \`<!-- policy -->\` on the line above it`,
      )
    }
  })

  for (const b of blocks.filter((x) => x.marked))
    test(`README.md:${b.line} is a policy cordon compiles`, (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'cordon-readme-policy-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      for (const src of relativeSources(parse(b.code))) mkdirSync(join(dir, src), { recursive: true })
      writeFileSync(join(dir, 'policy.yaml'), `${b.code}\n`)
      const r = cordon(['plan', '--policy', 'policy.yaml'], { cwd: dir })
      assert.equal(r.status, 0, `README.md:${b.line}\n${r.stderr}`)
      // A filter that refuses what every program needs compiles, and runs nothing.
      assert.doesNotMatch(r.stderr, /for every call/, `README.md:${b.line}`)
      assert.match(r.stdout, /pivot_root/, 'no plan printed')
    })
})
