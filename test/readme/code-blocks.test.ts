// The README's examples run (issue 20, #2). A fenced block after a `<!-- test -->` line is run:
// `sh` with bash -euo pipefail, `js` as an ES module importing 'cordon', each in a fresh
// directory, and must succeed. A `console` block after `<!-- test: output … -->` is a session
// at a terminal: each `$ ` line runs under a pty (as the plain user when we are root) in a
// project directory, and prints what the block shows, up to what the host decides (the user's
// ids, whether /lib32 exists).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ensureTestUser, isRoot, ROOT } from '../helpers.js'

interface Block {
  marker: string
  lang: string
  code: string
  line: number
}

/** The fenced blocks right after a `<!-- test… -->` line, in file order. */
export function markedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length - 1; i++) {
    const marker = /^<!-- (test(?::[^>]*)?) -->$/.exec(lines[i]!)?.[1]
    const fence = /^```(\w+)$/.exec(lines[i + 1]!)
    if (!marker || !fence) continue
    const end = lines.indexOf('```', i + 2)
    assert.ok(end > 0, `README.md:${i + 2}: the block has no closing fence`)
    blocks.push({ marker, lang: fence[1]!, code: lines.slice(i + 2, end).join('\n'), line: i + 2 })
  }
  return blocks
}

const blocks = markedBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))

/** A scratch directory with `cordon` and `cordon-exec` on PATH and 'cordon' importable, as an
 * installed project has them; readable by the plain user. */
function scratch(t: { after(fn: () => void): void }): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-readme-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  chmodSync(dir, 0o755)
  mkdirSync(join(dir, 'bin'))
  symlinkSync(join(ROOT, 'bin', 'cordon.js'), join(dir, 'bin', 'cordon'))
  symlinkSync(join(ROOT, 'bin', 'cordon-exec'), join(dir, 'bin', 'cordon-exec'))
  mkdirSync(join(dir, 'project', 'node_modules'), { recursive: true })
  symlinkSync(ROOT, join(dir, 'project', 'node_modules', 'cordon'))
  chmodSync(join(dir, 'project'), 0o777) // the plain user's project: it may write there
  const env = {
    PATH: `${join(dir, 'bin')}:/usr/local/bin:/usr/bin:/bin`,
    HOME: join(dir, 'home'),
    NODE_EXTRA_CA_CERTS: '',
  }
  return { dir, env }
}

describe('README code blocks', () => {
  test('the README marks its runnable examples', () => {
    const langs = blocks.map((b) => b.lang)
    assert.ok(langs.includes('sh') && langs.includes('js') && langs.includes('console'), langs.join(' '))
  })

  for (const block of blocks.filter((b) => b.marker === 'test')) {
    test(`README.md:${block.line} (${block.lang}) runs`, (t) => {
      const { dir, env } = scratch(t)
      const cwd = join(dir, 'project')
      const r =
        block.lang === 'sh'
          ? spawnSync('bash', ['-euo', 'pipefail', '-c', block.code], {
              cwd,
              env,
              encoding: 'utf8',
              timeout: 120_000,
            })
          : (writeFileSync(join(cwd, 'example.mjs'), block.code),
            spawnSync(process.execPath, ['example.mjs'], { cwd, env, encoding: 'utf8', timeout: 120_000 }))
      assert.equal(r.status, 0, `README.md:${block.line}\n${r.stdout}\n${r.stderr}`)
    })
  }

  const sessions = blocks.filter((b) => b.marker.startsWith('test: output'))
  for (const block of sessions) {
    test(
      `README.md:${block.line} shows what the command prints`,
      { skip: isRoot ? false : 'needs root to run it as the plain user' },
      (t) => {
        const { dir, env } = scratch(t)
        const user = ensureTestUser()
        const [first, ...shown] = block.code.split('\n')
        assert.match(first!, /^\$ /, 'a session starts with a `$ ` line')
        const command = first!.slice(2).replace(/^npx cordon /, 'cordon ')
        const config = {
          argv: ['/bin/sh', '-c', command],
          env,
          cwd: join(dir, 'project'),
          rows: 40,
          cols: 120,
          script: [['sleep', 1]],
          ...user,
        }
        const r = spawnSync(
          'python3',
          [join(ROOT, 'test', 'fixtures', 'pty', 'drive.py'), JSON.stringify(config)],
          {
            encoding: 'utf8',
            timeout: 120_000,
          },
        )
        assert.equal(r.status, 0, r.stderr)
        const { output } = JSON.parse(r.stdout) as { output: string }
        const normalize = (text: string) =>
          text
            .replace(/\r/g, '')
            .replace(/uid=\d+\(\S+\) gid=\d+\(\S+\) groups=\d+\(\S+\)/, 'uid=ID gid=ID groups=ID')
            .replace(/ lib32 /, ' ')
            .trimEnd()
        assert.equal(normalize(output), normalize(shown.join('\n')))
      },
    )
  }
})
