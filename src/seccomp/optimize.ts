// Peephole passes over the assembly, each pure, run in order until nothing changes. Ordering:
// threading runs before dead-code removal, because threading is what makes code unreachable.
import type { AsmItem } from './bpf.js'

type Pass = (items: AsmItem[]) => AsmItem[]

/** For each label, the `ja` target of the first instruction after it (if that is a `ja`). */
function jumpAliases(items: AsmItem[]): Map<string, string> {
  const aliases = new Map<string, string>()
  let pending: string[] = []
  for (const it of items) {
    if ('label' in it) {
      pending.push(it.label)
      continue
    }
    if ('ja' in it) for (const l of pending) aliases.set(l, it.ja)
    pending = []
  }
  return aliases
}

/** Jumps to a `ja` go straight to its target. */
const threadJumps: Pass = (items) => {
  const aliases = jumpAliases(items)
  const resolve = (label: string) => {
    let current = label
    for (let hops = 0; hops < 64 && aliases.has(current); hops++) current = aliases.get(current)!
    return current
  }
  return items.map((it) => {
    if ('ja' in it) return { ja: resolve(it.ja) }
    if ('code' in it && (it.jt || it.jf)) {
      const out = { ...it }
      if (it.jt) out.jt = resolve(it.jt)
      if (it.jf) out.jf = resolve(it.jf)
      return out
    }
    return it
  })
}

/** A `ja` to the very next instruction does nothing. */
const dropNullJumps: Pass = (items) =>
  items.filter((it, i) => {
    if (!('ja' in it)) return true
    for (let j = i + 1; j < items.length && 'label' in items[j]!; j++)
      if ((items[j] as { label: string }).label === it.ja) return false
    return true
  })

/** Instructions after a return or `ja`, before any label, are never reached. */
const dropUnreachable: Pass = (items) => {
  const out: AsmItem[] = []
  let dead = false
  for (const it of items) {
    if ('label' in it) dead = false
    if (!dead) out.push(it)
    if (!('label' in it) && ('ja' in it || it.code === 0x06)) dead = true
  }
  return out
}

/** Labels nothing jumps to are removed (they block the other passes). */
const dropUnusedLabels: Pass = (items) => {
  const used = new Set<string>()
  for (const it of items) {
    if ('ja' in it) used.add(it.ja)
    else if ('code' in it) {
      if (it.jt) used.add(it.jt)
      if (it.jf) used.add(it.jf)
    }
  }
  return items.filter((it) => !('label' in it) || used.has(it.label))
}

const PASSES: Pass[] = [threadJumps, dropNullJumps, dropUnreachable, dropUnusedLabels]

export function optimize(items: AsmItem[]): AsmItem[] {
  let current = items
  for (let round = 0; round < 50; round++) {
    const next = PASSES.reduce((acc, pass) => pass(acc), current)
    if (sameItems(next, current)) return next
    current = next
  }
  return current
}

function sameItems(a: AsmItem[], b: AsmItem[]): boolean {
  if (a.length !== b.length) return false
  return a.every((x, i) => {
    const y = b[i]!
    if ('label' in x) return 'label' in y && x.label === y.label
    if ('ja' in x) return 'ja' in y && x.ja === y.ja
    return 'code' in y && x.code === y.code && x.k === y.k && x.jt === y.jt && x.jf === y.jf
  })
}
