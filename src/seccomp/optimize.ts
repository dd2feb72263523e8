// Peephole passes over the assembly, each pure, run in order until nothing changes. Ordering:
// threading runs before dead-code removal, because threading is what makes code unreachable.
import { type AsmItem, BPF } from './bpf.js'

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

/** The labels an item jumps to. */
const targetsOf = (it: AsmItem): string[] =>
  'ja' in it ? [it.ja] : 'code' in it ? [it.jt, it.jf].filter((l): l is string => l !== undefined) : []

/** Labels nothing jumps to are removed (they block the other passes). */
const dropUnusedLabels: Pass = (items) => {
  const used = new Set(items.flatMap(targetsOf))
  return items.filter((it) => !('label' in it) || used.has(it.label))
}

type Cond = Extract<AsmItem, { code: number }>

const isReturn = (it: AsmItem): it is Cond => 'code' in it && it.code === BPF.RET_K
const isCondJump = (it: AsmItem): it is Cond =>
  'code' in it && (it.code & 0x07) === BPF.JMP_JA && it.code !== BPF.JMP_JA

/** A conditional jump's side that names the label right after it is a fall-through: written
 * as one, so that the label can go and the passes below see what follows is reached only so. */
const fallThroughToNext: Pass = (items) =>
  items.map((it, i) => {
    if (!isCondJump(it) || (it.jt === undefined && it.jf === undefined)) return it
    const next = new Set<string>()
    for (let j = i + 1; j < items.length && 'label' in items[j]!; j++)
      next.add((items[j] as { label: string }).label)
    if (!(it.jt !== undefined && next.has(it.jt)) && !(it.jf !== undefined && next.has(it.jf))) return it
    const out: Cond = { code: it.code, k: it.k }
    if (it.jt !== undefined && !next.has(it.jt)) out.jt = it.jt
    if (it.jf !== undefined && !next.has(it.jf)) out.jf = it.jf
    return out
  })

/** A return goes when every way into it can go to the same return further on instead: the
 * jumps to its labels, and a conditional jump that falls into it (that side then names the
 * other). The search tree ends in a return at almost every leaf, and a few actions fill them
 * all: this shares them (a third of the default filter), which the kernel converts, JITs and
 * maps at every sandbox's start. A call's path keeps its length. Only jumps that stay within a
 * conditional jump's reach are moved, measured before anything goes; the passes only remove
 * instructions, so no jump grows past its reach later. */
const shareReturns: Pass = (items) => {
  const pcs: number[] = []
  let pc = 0
  const jumpsTo = new Map<string, number[]>()
  items.forEach((it, i) => {
    pcs.push(pc)
    if (!('label' in it)) pc++
    for (const l of targetsOf(it)) jumpsTo.set(l, [...(jumpsTo.get(l) ?? []), i])
  })
  const out: (AsmItem | undefined)[] = items.slice()
  /** The label each kept return that others now reach goes by. */
  const labelOf = new Map<number, string>()
  /** The labels of a removed return → its kept one's. */
  const alias = new Map<string, string>()
  /** Per return value, the nearest kept return after the one being looked at. */
  const nearest = new Map<number, number>()
  // Earlier rounds made labels of their own: new ones must not reuse their names.
  const taken = new Set(items.flatMap((it) => ('label' in it ? [it.label] : [])))
  let made = 0
  const labelFor = (kept: number): string => {
    let label = labelOf.get(kept)
    if (label === undefined) {
      const before = items[kept - 1]
      if (before && 'label' in before) label = before.label
      else {
        while (taken.has(`~ret${made}`)) made++
        label = `~ret${made++}`
      }
      labelOf.set(kept, label)
    }
    return label
  }
  for (let i = items.length - 1; i >= 0; i--) {
    const it = items[i]!
    if (!isReturn(it)) continue
    let j = i - 1
    while (j >= 0 && 'label' in items[j]!) j--
    const kept = nearest.get(it.k >>> 0)
    const reaches = (from: number) => kept !== undefined && pcs[kept]! - pcs[from]! - 1 <= 255
    const prev = j >= 0 ? items[j]! : undefined
    // How the return is reached other than by a jump to its labels.
    let fall: 'no' | 'jt' | 'jf' | 'other' = 'other'
    if (prev && ('ja' in prev || isReturn(prev))) fall = 'no'
    else if (prev && isCondJump(prev)) {
      if (prev.jt !== undefined && prev.jf !== undefined) fall = 'no'
      else if (prev.jt === undefined && prev.jf !== undefined) fall = 'jt'
      else if (prev.jf === undefined && prev.jt !== undefined) fall = 'jf'
    }
    const labels: string[] = []
    for (let x = j + 1; x < i; x++) labels.push((items[x] as { label: string }).label)
    const jumps = labels.flatMap((l) => jumpsTo.get(l) ?? [])
    const movable =
      kept !== undefined &&
      fall !== 'other' &&
      (fall === 'no' || reaches(j)) &&
      jumps.every((r) => 'ja' in items[r]! || reaches(r))
    if (!movable) {
      nearest.set(it.k >>> 0, i)
      continue
    }
    const label = labelFor(kept)
    if (fall === 'jt' || fall === 'jf') out[j] = { ...(out[j] as Cond), [fall]: label }
    for (const l of labels) alias.set(l, label)
    for (let x = j + 1; x <= i; x++) out[x] = undefined
  }
  const to = (l: string) => alias.get(l) ?? l
  const result: AsmItem[] = []
  out.forEach((it, i) => {
    const label = labelOf.get(i)
    const before = items[i - 1]
    if (label !== undefined && !(before && 'label' in before && before.label === label))
      result.push({ label })
    if (!it) return
    if ('ja' in it) result.push({ ja: to(it.ja) })
    else if ('code' in it && (it.jt !== undefined || it.jf !== undefined)) {
      const moved: Cond = { code: it.code, k: it.k }
      if (it.jt !== undefined) moved.jt = to(it.jt)
      if (it.jf !== undefined) moved.jf = to(it.jf)
      result.push(moved)
    } else result.push(it)
  })
  return result
}

const PASSES: Pass[] = [
  threadJumps,
  dropNullJumps,
  dropUnreachable,
  fallThroughToNext,
  dropUnusedLabels,
  shareReturns,
]

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
