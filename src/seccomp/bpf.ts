// Classic BPF as seccomp uses it: encoding, an assembler with labels (conditional jumps whose
// target is beyond 255 get an unconditional `ja` trampoline), a disassembler, and an
// interpreter that runs a program on a seccomp_data the way the kernel does.

export const BPF = {
  LD_W_ABS: 0x20,
  ALU_AND_K: 0x54,
  JMP_JA: 0x05,
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_K: 0x35,
  JSET_K: 0x45,
  RET_K: 0x06,
} as const

/** seccomp_data offsets: nr, arch, instruction pointer, then six u64 args (low word first on LE). */
export const DATA = { nr: 0, arch: 4, argLow: (i: number) => 16 + 8 * i, argHigh: (i: number) => 20 + 8 * i }

export const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const

export const MAX_INSTRUCTIONS = 4096

export interface Insn {
  code: number
  jt: number
  jf: number
  k: number
}

/** Assembly: instructions whose jump targets are labels, and label markers. */
export type AsmItem =
  { code: number; k: number; jt?: string; jf?: string } | { label: string } | { ja: string }

/** Resolves labels to offsets; a conditional jump beyond 255 goes through a `ja` trampoline. */
export function assemble(items: AsmItem[]): Insn[] {
  const work = items.slice()
  let trampolines = 0
  for (;;) {
    const pos = new Map<string, number>()
    let pc = 0
    for (const it of work) {
      if ('label' in it) pos.set(it.label, pc)
      else pc++
    }
    const at = (l: string) => {
      const p = pos.get(l)
      if (p === undefined) throw new Error(`bpf: undefined label ${l}`)
      return p
    }
    const far = findFarJump(work, at)
    if (far) {
      // jxx far  ⇒  jxx tramp / (fall-through → skip); tramp: ja far; skip:
      const { index, side } = far
      const it = work[index] as Extract<AsmItem, { code: number }>
      const tramp = `~tramp${trampolines++}`
      const replaced = { ...it, [side]: tramp }
      const other = side === 'jt' ? 'jf' : 'jt'
      if (replaced[other] === undefined) replaced[other] = `${tramp}~skip`
      work.splice(index, 1, replaced, { label: tramp }, { ja: it[side]! }, { label: `${tramp}~skip` })
      continue
    }
    const out: Insn[] = []
    pc = 0
    for (const it of work) {
      if ('label' in it) continue
      if ('ja' in it) out.push({ code: BPF.JMP_JA, jt: 0, jf: 0, k: at(it.ja) - pc - 1 })
      else
        out.push({
          code: it.code,
          jt: it.jt === undefined ? 0 : at(it.jt) - pc - 1,
          jf: it.jf === undefined ? 0 : at(it.jf) - pc - 1,
          k: it.k >>> 0,
        })
      pc++
    }
    return out
  }
}

function findFarJump(
  work: AsmItem[],
  at: (l: string) => number,
): { index: number; side: 'jt' | 'jf' } | undefined {
  let pc = 0
  for (let i = 0; i < work.length; i++) {
    const it = work[i]!
    if ('label' in it) continue
    if ('code' in it)
      for (const side of ['jt', 'jf'] as const) {
        const target = it[side]
        if (target !== undefined && at(target) - pc - 1 > 255) return { index: i, side }
      }
    pc++
  }
  return undefined
}

export function encode(prog: Insn[]): Uint8Array {
  const out = Buffer.alloc(prog.length * 8)
  prog.forEach((insn, i) => {
    out.writeUInt16LE(insn.code, i * 8)
    out.writeUInt8(insn.jt, i * 8 + 2)
    out.writeUInt8(insn.jf, i * 8 + 3)
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4)
  })
  return out
}

export function decode(bytes: Uint8Array): Insn[] {
  const b = Buffer.from(bytes)
  const out: Insn[] = []
  for (let i = 0; i + 8 <= b.length; i += 8)
    out.push({
      code: b.readUInt16LE(i),
      jt: b.readUInt8(i + 2),
      jf: b.readUInt8(i + 3),
      k: b.readUInt32LE(i + 4),
    })
  return out
}

export interface SeccompData {
  nr: number
  arch: number
  ip?: bigint
  args?: readonly bigint[]
}

export interface Verdict {
  /** The raw return value (action | data). */
  value: number
  /** Indices of the instructions executed, in order. */
  path: number[]
}

function load(data: SeccompData, offset: number): number {
  if (offset === DATA.nr) return data.nr >>> 0
  if (offset === DATA.arch) return data.arch >>> 0
  const rel = offset - 16
  if (rel < 0 || rel >= 48 || rel % 4 !== 0) throw new Error(`bpf: load at unsupported offset ${offset}`)
  const arg = BigInt.asUintN(64, data.args?.[Math.floor(rel / 8)] ?? 0n)
  return Number(rel % 8 === 0 ? arg & 0xffffffffn : arg >> 32n)
}

/** Runs prog like the kernel: forward jumps only, must end in a return. */
export function interpret(prog: Insn[], data: SeccompData): Verdict {
  let a = 0
  const path: number[] = []
  for (let pc = 0; pc < prog.length;) {
    const insn = prog[pc]!
    path.push(pc)
    switch (insn.code) {
      case BPF.LD_W_ABS:
        a = load(data, insn.k)
        pc++
        break
      case BPF.ALU_AND_K:
        a = (a & insn.k) >>> 0
        pc++
        break
      case BPF.JMP_JA:
        pc += 1 + insn.k
        break
      case BPF.JEQ_K:
        pc += 1 + (a === insn.k >>> 0 ? insn.jt : insn.jf)
        break
      case BPF.JGT_K:
        pc += 1 + (a > insn.k >>> 0 ? insn.jt : insn.jf)
        break
      case BPF.JGE_K:
        pc += 1 + (a >= insn.k >>> 0 ? insn.jt : insn.jf)
        break
      case BPF.JSET_K:
        pc += 1 + ((a & insn.k) !== 0 ? insn.jt : insn.jf)
        break
      case BPF.RET_K:
        return { value: insn.k >>> 0, path }
      default:
        throw new Error(`bpf: unsupported instruction 0x${insn.code.toString(16)} at ${pc}`)
    }
  }
  throw new Error('bpf: program fell off the end')
}

/** Names a return value: ALLOW, ERRNO(1), KILL_PROCESS... */
export function describeReturn(value: number): string {
  const action = (value & 0xffff0000) >>> 0
  const data = value & 0xffff
  for (const [name, v] of Object.entries(RET)) {
    if (v !== action && !(name === 'KILL_PROCESS' && value === RET.KILL_PROCESS)) continue
    return name === 'ERRNO' || name === 'TRACE' ? `${name}(${data})` : name
  }
  return `0x${value.toString(16)}`
}
