// SeccompSpec → BPF. Per entry point: the arch check, x32 and the tracer's -1 handled first,
// then a weight-balanced binary search over syscall-number ranges (neighbours with the same
// outcome merged), whose leaves return an action or run argument checks. Paths that end in an
// unconditional action load only nr and arch, so the kernel's action cache can skip the filter.
import { CordonError } from '../errors.js'
import { type ArchInfo, maxSyscall } from './arch.js'
import { checkCost, Emitter, emitLeaf, type Leaf, returnValue } from './leaf.js'
import { type AsmItem, assemble, BPF, DATA, encode, type Insn, interpret, MAX_INSTRUCTIONS } from './bpf.js'
import { actionKey, leafFor, ruleNames, type SeccompSpec } from './model.js'
import { optimize } from './optimize.js'

export interface Range {
  lo: number
  hi: number
  leaf: Leaf
  /** Identity of the leaf's behaviour: equal keys may merge. */
  key: string
  /** Relative call frequency (from a profile), or the count of known syscalls in the range. */
  weight: number
}

export interface CompileOptions {
  /** Syscall name → relative frequency, to put hot syscalls on short paths. */
  frequencies?: Readonly<Record<string, number>>
  /** false: one range per number and no passes (the reference the optimizer is tested against). */
  optimize?: boolean
  /** Compute per-arch path statistics (interprets every known syscall; off on the run path). */
  stats?: boolean
}

export interface ArchStats {
  arch: string
  /** Instructions executed for a known syscall with zero arguments: mean and worst. */
  averagePath: number
  worstPath: number
  /** Σ frequency × comparisons, when frequencies were given (else uniform). */
  weightedCost: number
}

export interface CompiledFilter {
  program: Uint8Array
  instructions: number
  /** Instruction count before the optimizer's passes (not counting far-jump trampolines). */
  instructionsBeforeOptimization: number
  /** Empty unless options.stats. */
  perArch: ArchStats[]
}

const TRACER_SKIP = 0xffffffff

function leafKey(l: Leaf): string {
  if (l.checks.length === 0) return actionKey(l.fallback)
  return JSON.stringify(l, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
}

interface Outcome {
  leaf: Leaf
  key: string
  lift: number
}

/** Leaves depend only on which rules name a syscall: compute each distinct one once. */
function outcomes(spec: SeccompSpec): (name: string) => Outcome {
  const memo = new Map<string, Outcome>()
  const sets = spec.rules.map(ruleNames)
  return (name) => {
    let signature = ''
    for (let i = 0; i < sets.length; i++) if (sets[i]!.has(name)) signature += `${i},`
    let o = memo.get(signature)
    if (!o) {
      const leaf = leafFor(spec, name)
      // A weight-balanced tree puts a leaf of weight w at depth ≈ log2(total / w): weighting a
      // leaf by 2^(its argument checks' length) lifts it by that many levels, so checking
      // arguments does not lengthen the worst path.
      o = { leaf, key: leafKey(leaf), lift: 2 ** Math.min(8, checkCost(leaf)) }
      memo.set(signature, o)
    }
    return o
  }
}

/** Ranges covering [0, 2^32-2] for one arch (2^32-1 is the tracer's skip, handled before). */
export function buildRanges(spec: SeccompSpec, arch: ArchInfo, options: CompileOptions = {}): Range[] {
  const table = arch.table
  const byNumber = new Map<number, string>()
  for (const name in table) byNumber.set(table[name]!, name)
  const unknown: Leaf = { checks: [], fallback: spec.unknownAction }
  const unknownKey = leafKey(unknown)
  const top = arch.x32Bit ? arch.x32Bit - 1 : TRACER_SKIP - 1
  const max = maxSyscall(arch)
  // With a frequency profile, every known syscall still gets a floor weight (half the mean),
  // which bounds how deep rare syscalls sink: hot paths get shorter, the worst path stays
  // within a couple of comparisons of a balanced tree.
  const freq = options.frequencies
  const known = Object.keys(table)
  const floor = freq ? known.reduce((s, n) => s + (freq[n] ?? 0), 0) / known.length / 2 || 1 : 1
  const outcome = outcomes(spec)
  const merge = options.optimize !== false
  const ranges: Range[] = []
  const push = (lo: number, hi: number, leaf: Leaf, key: string, weight: number) => {
    const last = ranges[ranges.length - 1]
    if (merge && last && last.hi + 1 === lo && last.key === key) {
      last.hi = hi
      last.weight += weight
    } else ranges.push({ lo, hi, leaf, key, weight })
  }
  for (let nr = 0; nr <= max; nr++) {
    const name = byNumber.get(nr)
    if (name === undefined) {
      push(nr, nr, unknown, unknownKey, 1e-6)
      continue
    }
    const o = outcome(name)
    push(nr, nr, o.leaf, o.key, (freq ? (freq[name] ?? 0) + floor : 1) * o.lift)
  }
  push(max + 1, top, unknown, unknownKey, 1e-6)
  return ranges
}

/** Where the leaves that check arguments and recur in an arch's ranges (socket and socketpair
 * check the same families, the chmod calls the same mode bits) are emitted: once, at their last
 * range, which the others jump to (jumps go forward only). Keyed by the leaf's key. */
type SharedLeaves = Map<string, { last: Range; label: string }>

function sharedLeaves(e: Emitter, ranges: Range[]): SharedLeaves {
  const seen = new Map<string, Range[]>()
  for (const r of ranges) if (r.leaf.checks.length) seen.set(r.key, [...(seen.get(r.key) ?? []), r])
  const shared: SharedLeaves = new Map()
  for (const [key, rs] of seen)
    if (rs.length > 1) shared.set(key, { last: rs.at(-1)!, label: e.label('leaf') })
  return shared
}

/** Weight-balanced binary search: the split leaves the two halves' weights closest. */
function emitTree(e: Emitter, ranges: Range[], arch: ArchInfo, shared: SharedLeaves): void {
  if (ranges.length === 1) {
    const range = ranges[0]!
    const one = shared.get(range.key)
    if (one && one.last !== range) return e.put({ ja: one.label })
    if (one) e.put({ label: one.label })
    emitLeaf(e, range.leaf, arch)
    return
  }
  const total = ranges.reduce((s, r) => s + r.weight, 0)
  let best = 1
  let bestDiff = Number.POSITIVE_INFINITY
  let left = 0
  for (let k = 1; k < ranges.length; k++) {
    left += ranges[k - 1]!.weight
    const diff = Math.abs(total - 2 * left)
    if (diff < bestDiff) {
      bestDiff = diff
      best = k
    }
  }
  // Every node is reached by jumps only, so the accumulator still holds the number here.
  const right = e.label('ge')
  e.put({ code: BPF.JGE_K, k: ranges[best]!.lo, jt: right })
  emitTree(e, ranges.slice(0, best), arch, shared)
  e.put({ label: right })
  emitTree(e, ranges.slice(best), arch, shared)
}

function emitProgram(spec: SeccompSpec, arches: ArchInfo[], options: CompileOptions): AsmItem[] {
  const e = new Emitter()
  e.ld(DATA.arch)
  const labels = arches.map((a) => e.label(a.name))
  arches.forEach((a, i) => e.put({ code: BPF.JEQ_K, k: a.audit, jt: labels[i]! }))
  e.ret({ kind: 'kill-process' }) // a foreign architecture
  arches.forEach((arch, i) => {
    e.put({ label: labels[i]! })
    e.ld(DATA.nr)
    const skip = e.label('skip')
    e.put({ code: BPF.JEQ_K, k: TRACER_SKIP, jt: skip })
    const ranges = buildRanges(spec, arch, options)
    const shared: SharedLeaves =
      options.optimize === false ? new Map<string, never>() : sharedLeaves(e, ranges)
    if (arch.x32Bit) {
      const kill = e.label('x32')
      e.put({ code: BPF.JGE_K, k: arch.x32Bit, jt: kill })
      emitTree(e, ranges, arch, shared)
      e.put({ label: kill })
      e.ret({ kind: 'kill-process' })
    } else emitTree(e, ranges, arch, shared)
    // A tracer set the number to -1 to skip the call: nothing runs, so nothing to deny.
    e.put({ label: skip })
    e.ret({ kind: 'allow' })
  })
  return e.items
}

function pathStats(prog: Insn[], arch: ArchInfo, options: CompileOptions): ArchStats {
  let sum = 0
  let worst = 0
  let weighted = 0
  let weights = 0
  const names = Object.entries(arch.table)
  for (const [name, nr] of names) {
    const { path } = interpret(prog, { nr, arch: arch.audit, args: [] })
    const comparisons = path.filter(
      (pc) => (prog[pc]!.code & 0x07) === 0x05 && prog[pc]!.code !== BPF.JMP_JA,
    ).length
    sum += path.length
    worst = Math.max(worst, path.length)
    const f = options.frequencies ? (options.frequencies[name] ?? 0) : 1
    weighted += f * comparisons
    weights += f
  }
  return {
    arch: arch.name,
    averagePath: Number((sum / names.length).toFixed(2)),
    worstPath: worst,
    weightedCost: Number((weights ? weighted / weights : 0).toFixed(3)),
  }
}

/** Compiles spec for the given entry points (native first). */
export function compileSeccomp(
  spec: SeccompSpec,
  arches: ArchInfo[],
  options: CompileOptions = {},
): CompiledFilter {
  const items = emitProgram(spec, arches, options)
  const prog = assemble(options.optimize === false ? items : optimize(items))
  if (prog.length > MAX_INSTRUCTIONS)
    throw new CordonError(
      'invalid_policy',
      `The seccomp filter needs ${prog.length} instructions, over the kernel's limit of ${MAX_INSTRUCTIONS}; ` +
        'merge rules with the same action, use groups, or move argument checks to fewer syscalls',
    )
  return {
    program: encode(prog),
    instructions: prog.length,
    instructionsBeforeOptimization: items.filter((it) => !('label' in it)).length,
    perArch: options.stats ? arches.map((a) => pathStats(prog, a, options)) : [],
  }
}

export { actionKey, type Leaf, leafFor, returnValue }
