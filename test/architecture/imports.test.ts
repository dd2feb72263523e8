// tier: unit
// The import graph of src/ follows the layer order declared in docs/ARCHITECTURE.md: a module
// imports only from its own folder or from a folder in a lower layer, so folders form no cycle
// and pure code never reaches up into the code that runs things.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, test } from 'node:test'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const SRC = join(ROOT, 'src')

/** File cycles inside one folder that are still there (each a candidate to untangle). A new one
 * fails the test; fixing one of these fails it too, so the list shrinks with the code. */
const KNOWN_FILE_CYCLES: string[][] = []

/** The layers, top first, from the ```layers block of docs/ARCHITECTURE.md. */
function declaredLayers(): string[][] {
  const doc = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8')
  const block = /^```layers\n([\s\S]*?)^```/m.exec(doc)
  assert.ok(block, 'docs/ARCHITECTURE.md has no ```layers block')
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((line) => line.split(/\s+/))
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return name.endsWith('.ts') ? [path] : []
  })
}

/** A file's folder under src/; files at the top (errors.ts, index.ts) are each their own. */
const folderOf = (file: string) => {
  const parts = relative(SRC, file).split('/')
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, '') : parts[0]!
}

/** Relative imports of a file: static, re-exports, side-effect and dynamic, comments removed. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
  const specs = [
    ...text.matchAll(/(?:^|[;\n])\s*(?:import|export)\b[^'"`;]*?\bfrom\s*['"](\.[^'"]+)['"]/g),
    ...text.matchAll(/(?:^|[;\n])\s*import\s*['"](\.[^'"]+)['"]/g),
    ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!)
  return specs.map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'))
}

const files = sourceFiles(SRC)
const edges = files.flatMap((from) => importsOf(from).map((to) => ({ from, to })))

/** Strongly connected components with more than one node (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const out: string[][] = []
  const visit = (v: string) => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1) out.push(scc.sort())
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return out
}

describe('import graph of src/', () => {
  test('the parser sees the imports (a broken pattern would pass everything)', () => {
    assert.ok(files.length > 100, `${files.length} files`)
    assert.ok(edges.length > 500, `${edges.length} imports`)
    const compile = edges
      .filter((e) => relative(SRC, e.from) === 'plan/compile.ts')
      .map((e) => relative(SRC, e.to))
    assert.ok(compile.includes('plan/view.ts') && compile.includes('policy/effective.ts'), compile.join(' '))
    for (const { to } of edges)
      assert.ok(files.includes(to), `import of a missing file: ${relative(SRC, to)}`)
  })

  test('every folder has a declared layer, and each layer is declared once', () => {
    const declared = declaredLayers().flat()
    assert.deepEqual(declared, [...new Set(declared)], 'a folder is declared twice')
    const folders = [...new Set(files.map(folderOf))].sort()
    assert.deepEqual(
      folders.filter((f) => !declared.includes(f)),
      [],
      'folders without a layer: add them to the ```layers block of docs/ARCHITECTURE.md',
    )
  })

  test('imports point down the declared layer order: none up, none sideways between folders', () => {
    const layers = declaredLayers()
    const rank = new Map(layers.flatMap((folders, i) => folders.map((f) => [f, layers.length - i] as const)))
    const against = edges
      .filter(({ from, to }) => folderOf(from) !== folderOf(to))
      .filter(({ from, to }) => rank.get(folderOf(to))! >= rank.get(folderOf(from))!)
      .map(({ from, to }) => `${relative(SRC, from)} -> ${relative(SRC, to)}`)
    assert.deepEqual(against, [], 'imports against the layer order (docs/ARCHITECTURE.md)')
  })

  test('no folder cycle', () => {
    const graph = new Map<string, Set<string>>()
    for (const { from, to } of edges) {
      const a = folderOf(from)
      const b = folderOf(to)
      if (a !== b) graph.set(a, (graph.get(a) ?? new Set()).add(b))
    }
    assert.deepEqual(cycles(graph), [])
  })

  test('no file cycle but the known ones', () => {
    const graph = new Map<string, Set<string>>()
    for (const { from, to } of edges) {
      const a = relative(SRC, from)
      graph.set(a, (graph.get(a) ?? new Set()).add(relative(SRC, to)))
    }
    assert.deepEqual(cycles(graph).sort(), KNOWN_FILE_CYCLES)
  })
})
