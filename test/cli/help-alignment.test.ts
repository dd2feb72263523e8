// Every --help lays its options out in columns (issue 20, first hour): in each block of entries,
// descriptions start at one column, two spaces or more after the term; a term too long for the
// column may push its own description further right, never a short one.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { cordon } from '../helpers.js'

const COMMANDS = [
  [],
  ['run'],
  ['learn'],
  ['policy'],
  ['policy', 'diff'],
  ['verify'],
  ['export'],
  ['advise'],
  ['report'],
  ['check'],
  ['compile'],
  ['plan'],
  ['ps'],
  ['freeze'],
  ['thaw'],
  ['kill'],
  ['monitor'],
  ['seccomp'],
  ['schema'],
  ['completion'],
  ['man'],
]

interface Entry {
  line: string
  term: number // where the term ends
  desc: number // where the description starts (-1: no two-space gap)
  next: number // where the next line's text starts when it continues this entry, else -1
}

/** Lines that start an entry: indented 2-6 spaces, then an option or a lower-case word. */
function blocks(text: string): Entry[][] {
  const out: Entry[][] = []
  const block: Entry[] = []
  for (const line of text.split('\n')) {
    if (/^ {2,6}(-|[a-z])/.test(line)) {
      const gap = / {2,}(?=\S)/.exec(line.trimStart())
      const indent = line.length - line.trimStart().length
      block.push(
        gap
          ? { line, term: indent + gap.index, desc: indent + gap.index + gap[0].length, next: -1 }
          : { line, term: line.length, desc: -1, next: -1 },
      )
    } else if (/^ {7,}\S/.test(line)) {
      // A description's continuation, or the description of a term alone on its line.
      const last = block.at(-1)
      if (last && last.next < 0) last.next = line.length - line.trimStart().length
    } else if (block.length) out.push(block.splice(0))
  }
  if (block.length) out.push(block)
  return out
}

describe('--help alignment', () => {
  for (const cmd of COMMANDS)
    test(`cordon ${cmd.join(' ')} --help`.replace('  ', ' '), () => {
      const r = cordon([...cmd, '--help'])
      assert.equal(r.status, 0, r.stderr)
      for (const block of blocks(r.stdout)) {
        if (block.length < 2) continue
        const counts = new Map<number, number>()
        for (const e of block) if (e.desc >= 0) counts.set(e.desc, (counts.get(e.desc) ?? 0) + 1)
        const column = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? -1
        for (const e of block) {
          const aligned = e.desc === column
          const longTerm = e.desc >= 0 && e.term + 2 > column
          // A term alone on its line, its description below it at the column.
          const alone = e.desc < 0 && e.next === column
          assert.ok(
            aligned || longTerm || alone,
            `description not at column ${column}:\n${block.map((b) => b.line).join('\n')}\n→ ${e.line}`,
          )
        }
      }
    })
})
