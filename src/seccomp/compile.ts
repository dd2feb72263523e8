// SeccompSpec → BPF. Per entry point: the arch check, x32 and the tracer's -1 handled first,
// then a weight-balanced binary search over syscall-number ranges (neighbours with the same
// outcome merged), whose leaves return an action or run argument checks. Paths that end in an
// unconditional action load only nr and arch, so the kernel's action cache can skip the filter.
import { CordonError } from '../errors.js'
import { type ArchInfo, maxSyscall } from './arch.js'
import {
  type AsmItem,
  assemble,
  BPF,
  DATA,
  encode,
  type Insn,
  interpret,
  MAX_INSTRUCTIONS,
  RET,
} from './bpf.js'
import { type Action, type ArgCondition, actionKey, type SeccompSpec } from './model.js'
import { optimize } from './optimize.js'

/** What happens to one syscall number: checks in order, then the fallback. */
export interface Leaf {
  checks: { args: ArgCondition[]; action: Action }[]
  fallback: Action
}

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

export function returnValue(a: Action): number {
  switch (a.kind) {
    case 'allow':
      return RET.ALLOW
    case 'kill-process':
      return RET.KILL_PROCESS
    case 'kill-thread':
      return RET.KILL_THREAD
    case 'trap':
      return RET.TRAP
    case 'log':
      return RET.LOG
    case 'notify':
      return RET.USER_NOTIF
    case 'errno':
      return (RET.ERRNO | (a.errno & 0xffff)) >>> 0
    case 'trace':
      return (RET.TRACE | (a.data & 0xffff)) >>> 0
  }
}

const nameSets = new WeakMap<object, Set<string>>()
function ruleNames(rule: SeccompSpec['rules'][number]): Set<string> {
  let set = nameSets.get(rule)
  if (!set) nameSets.set(rule, (set = new Set(rule.syscalls)))
  return set
}

/** The outcome of each known syscall number on arch (last matching rule wins). */
export function leafFor(spec: SeccompSpec, name: string): Leaf {
  const checks: Leaf['checks'] = []
  for (let i = spec.rules.length - 1; i >= 0; i--) {
    const rule = spec.rules[i]!
    if (!ruleNames(rule).has(name)) continue
    if (rule.args.length === 0) return { checks, fallback: rule.action }
    checks.push({ args: rule.args, action: rule.action })
  }
  return { checks, fallback: spec.defaultAction }
}

function leafKey(l: Leaf): string {
  if (l.checks.length === 0) return actionKey(l.fallback)
  return JSON.stringify(l, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
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

/** Instructions the longest argument-check path of a leaf adds (an estimate, for weights). */
function checkCost(leaf: Leaf): number {
  let cost = 0
  for (const check of mergeChecks(leaf.checks))
    for (const c of check.args) cost += c.op === 'in' ? 3 + (c.values?.length ?? 0) : c.width === 32 ? 2 : 4
  return cost
}

class Emitter {
  items: AsmItem[] = []
  private n = 0
  label(prefix: string): string {
    return `${prefix}${this.n++}`
  }
  put(item: AsmItem): void {
    this.items.push(item)
  }
  ret(a: Action): void {
    this.put({ code: BPF.RET_K, k: returnValue(a) })
  }
  ld(offset: number): void {
    this.put({ code: BPF.LD_W_ABS, k: offset })
  }
}

/** Emits code that falls through when cond holds and jumps to fail otherwise. */
function emitCondition(e: Emitter, c: ArgCondition, fail: string, arch: ArchInfo): void {
  const pass = e.label('pass')
  const lo = (v: bigint) => Number(v & 0xffffffffn)
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn)
  const wide = c.width === 64 && arch.bits === 64
  const word = (which: 'hi' | 'lo') => e.ld(which === 'hi' ? DATA.argHigh(c.index) : DATA.argLow(c.index))
  const v = BigInt.asUintN(64, c.value)
  switch (c.op) {
    case 'eq':
    case 'ne': {
      // eq: both words equal → pass. ne: the inverse targets.
      const [yes, no] = c.op === 'eq' ? [pass, fail] : [fail, pass]
      if (wide) {
        word('hi')
        const next = e.label('lo')
        e.put({ code: BPF.JEQ_K, k: hi(v), jt: next, jf: no })
        e.put({ label: next })
      } else if (hi(v) !== 0 && c.width === 64) {
        // A 32-bit arch's upper word is zero: a value above 2^32 never matches.
        e.put({ ja: no })
        break
      }
      word('lo')
      e.put({ code: BPF.JEQ_K, k: lo(v), jt: yes, jf: no })
      break
    }
    case 'masked-eq': {
      const m = BigInt.asUintN(64, c.mask ?? 0xffffffffffffffffn)
      const target = v & m
      if (wide && hi(m) !== 0) {
        word('hi')
        e.put({ code: BPF.ALU_AND_K, k: hi(m) })
        const next = e.label('lo')
        e.put({ code: BPF.JEQ_K, k: hi(target), jt: next, jf: fail })
        e.put({ label: next })
      } else if (hi(target) !== 0 && c.width === 64) {
        e.put({ ja: fail })
        break
      }
      word('lo')
      e.put({ code: BPF.ALU_AND_K, k: lo(m) })
      e.put({ code: BPF.JEQ_K, k: lo(target), jt: pass, jf: fail })
      break
    }
    case 'in': {
      // Group the values by their high word: one high-word test per group, then the low words.
      // The last test of a chain jumps to fail itself instead of falling into a `ja fail`.
      const values = (c.values ?? []).map((x) => BigInt.asUintN(64, x))
      const chain = (lows: number[]) =>
        lows.forEach((l, i) =>
          e.put({ code: BPF.JEQ_K, k: l, jt: pass, ...(i === lows.length - 1 ? { jf: fail } : {}) }),
        )
      if (!wide) {
        const lows = [...new Set(values.filter((x) => c.width === 32 || hi(x) === 0).map(lo))]
        if (lows.length === 0) e.put({ ja: fail })
        else {
          word('lo')
          chain(lows)
        }
        break
      }
      const byHigh = new Map<number, number[]>()
      for (const x of values) byHigh.set(hi(x), [...(byHigh.get(hi(x)) ?? []), lo(x)])
      const groups = [...byHigh.entries()].map(([h, lows]) => ({
        h,
        lows: [...new Set(lows)],
        label: e.label('hi'),
      }))
      word('hi')
      groups.forEach((g, i) =>
        e.put({ code: BPF.JEQ_K, k: g.h, jt: g.label, ...(i === groups.length - 1 ? { jf: fail } : {}) }),
      )
      for (const g of groups) {
        e.put({ label: g.label })
        word('lo')
        chain(g.lows)
      }
      break
    }
    default: {
      // Unsigned order: compare high words, and only when equal, the low words.
      const strict = c.op === 'gt' || c.op === 'lt'
      const above = c.op === 'gt' || c.op === 'ge'
      const [whenGreater, whenLess] = above ? [pass, fail] : [fail, pass]
      if (wide) {
        word('hi')
        const eqHi = e.label('eqhi')
        const notGreater = e.label('ngt')
        e.put({ code: BPF.JGT_K, k: hi(v), jt: whenGreater, jf: notGreater })
        e.put({ label: notGreater })
        e.put({ code: BPF.JEQ_K, k: hi(v), jt: eqHi, jf: whenLess })
        e.put({ label: eqHi })
      } else if (hi(v) !== 0 && c.width === 64) {
        e.put({ ja: whenLess }) // the zero upper word is below v
        break
      }
      word('lo')
      // gt: lo > v ; ge: lo >= v ; lt: !(lo >= v) ; le: !(lo > v)
      const code = strict === above ? BPF.JGT_K : BPF.JGE_K
      e.put({ code, k: lo(v), jt: above ? pass : fail, jf: above ? fail : pass })
    }
  }
  e.put({ label: pass })
}

/** Adjacent checks with the same action on one `eq`/`in` of the same argument become one `in`
 * (OCI profiles spell set membership as one rule per value). */
export function mergeChecks(checks: Leaf['checks']): Leaf['checks'] {
  const out: Leaf['checks'] = []
  const single = (x: Leaf['checks'][number]) =>
    x.args.length === 1 && (x.args[0]!.op === 'eq' || x.args[0]!.op === 'in') ? x.args[0]! : undefined
  for (const check of checks) {
    const prev = out.at(-1)
    const a = prev && single(prev)
    const b = single(check)
    if (
      prev &&
      a &&
      b &&
      a.index === b.index &&
      a.width === b.width &&
      actionKey(prev.action) === actionKey(check.action)
    ) {
      const values = [
        ...(a.op === 'in' ? (a.values ?? []) : [a.value]),
        ...(b.op === 'in' ? (b.values ?? []) : [b.value]),
      ]
      out[out.length - 1] = { action: prev.action, args: [{ ...a, op: 'in', value: 0n, values }] }
    } else out.push(check)
  }
  return out
}

function emitLeaf(e: Emitter, leaf: Leaf, arch: ArchInfo): void {
  for (const check of mergeChecks(leaf.checks)) {
    const next = e.label('next')
    for (const c of check.args) emitCondition(e, c, next, arch)
    e.ret(check.action)
    e.put({ label: next })
  }
  e.ret(leaf.fallback)
}

/** Weight-balanced binary search: the split leaves the two halves' weights closest. */
function emitTree(e: Emitter, ranges: Range[], arch: ArchInfo): void {
  if (ranges.length === 1) {
    emitLeaf(e, ranges[0]!.leaf, arch)
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
  emitTree(e, ranges.slice(0, best), arch)
  e.put({ label: right })
  emitTree(e, ranges.slice(best), arch)
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
    if (arch.x32Bit) {
      const kill = e.label('x32')
      e.put({ code: BPF.JGE_K, k: arch.x32Bit, jt: kill })
      emitTree(e, buildRanges(spec, arch, options), arch)
      e.put({ label: kill })
      e.ret({ kind: 'kill-process' })
    } else emitTree(e, buildRanges(spec, arch, options), arch)
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

export { actionKey }
