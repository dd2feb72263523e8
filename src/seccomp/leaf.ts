// Leaf code: the argument checks of one syscall and the actions they lead to. 64-bit
// comparisons are built from 32-bit words (high word first); `width: 32` and 32-bit arches
// compare the low word only. Every emitter falls through when its condition holds.
import type { ArchInfo } from './arch.js'
import { type AsmItem, BPF, DATA, RET } from './bpf.js'
import { type Action, type ArgCondition, actionKey, type Leaf } from './model.js'

/** What happens to one syscall number: checks in order, then the fallback. */
export type { Leaf } from './model.js'

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
    case 'deny-log':
      return RET.USER_NOTIF
    case 'respond':
      return a.value >>> 0
    case 'errno':
      return (RET.ERRNO | (a.errno & 0xffff)) >>> 0
    case 'trace':
      return (RET.TRACE | (a.data & 0xffff)) >>> 0
  }
}

export class Emitter {
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

export function emitLeaf(e: Emitter, leaf: Leaf, arch: ArchInfo): void {
  for (const check of mergeChecks(leaf.checks)) {
    const next = e.label('next')
    for (const c of check.args) emitCondition(e, c, next, arch)
    e.ret(check.action)
    e.put({ label: next })
  }
  e.ret(leaf.fallback)
}

/** Instructions the longest argument-check path of a leaf adds (an estimate, for weights). */
export function checkCost(leaf: Leaf): number {
  let cost = 0
  for (const check of mergeChecks(leaf.checks))
    for (const c of check.args) cost += c.op === 'in' ? 3 + (c.values?.length ?? 0) : c.width === 32 ? 2 : 4
  return cost
}
