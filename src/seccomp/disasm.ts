// Disassembly with syscall names: `cordon seccomp disasm` and the path `cordon seccomp test` prints.
import { ARCHES, type ArchInfo, syscallName } from './arch.js'
import { BPF, DATA, describeReturn, type Insn } from './bpf.js'

const AUDIT_NAMES = new Map(Object.values(ARCHES).map((a) => [a.audit >>> 0, a]))

function operand(offset: number): string {
  if (offset === DATA.nr) return 'nr'
  if (offset === DATA.arch) return 'arch'
  const i = Math.floor((offset - 16) / 8)
  return `args[${i}].${(offset - 16) % 8 === 0 ? 'lo' : 'hi'}`
}

/** One line per instruction; compares on the syscall number are named for the arch in force. */
export function disassemble(prog: Insn[]): string[] {
  // Arch blocks start where the leading `jeq arch` instructions jump to.
  const starts: { pc: number; arch: ArchInfo }[] = []
  for (let pc = 1; pc < prog.length && prog[pc]!.code === BPF.JEQ_K; pc++) {
    const arch = AUDIT_NAMES.get(prog[pc]!.k >>> 0)
    if (arch) starts.push({ pc: pc + 1 + prog[pc]!.jt, arch })
  }
  // What the accumulator holds at each instruction, over every path that reaches it.
  const loadedAt = new Array<string | undefined>(prog.length).fill(undefined)
  const reach = (pc: number, value: string) => {
    if (pc >= prog.length) return
    loadedAt[pc] = loadedAt[pc] === undefined || loadedAt[pc] === value ? value : '?'
  }
  prog.forEach((insn, pc) => {
    const now = insn.code === BPF.LD_W_ABS ? operand(insn.k) : (loadedAt[pc] ?? '?')
    if (insn.code === BPF.RET_K) return
    if (insn.code === BPF.JMP_JA) reach(pc + 1 + insn.k, now)
    else if (insn.code === BPF.LD_W_ABS || insn.code === BPF.ALU_AND_K)
      reach(pc + 1, insn.code === BPF.ALU_AND_K ? '?' : now)
    else {
      reach(pc + 1 + insn.jt, now)
      reach(pc + 1 + insn.jf, now)
    }
  })
  return prog.map((insn, pc) => {
    const arch = starts.filter((s) => s.pc <= pc).at(-1)?.arch
    const at = String(pc).padStart(4, '0')
    const to = (off: number) => String(pc + 1 + off).padStart(4, '0')
    const loaded = loadedAt[pc] ?? ''
    let text: string
    let note = ''
    switch (insn.code) {
      case BPF.LD_W_ABS:
        text = `ld   ${operand(insn.k)}`
        break
      case BPF.ALU_AND_K:
        text = `and  #0x${insn.k.toString(16)}`
        break
      case BPF.JMP_JA:
        text = `ja   ${to(insn.k)}`
        break
      case BPF.RET_K:
        text = `ret  ${describeReturn(insn.k)}`
        break
      default: {
        const op =
          { [BPF.JEQ_K]: 'jeq', [BPF.JGT_K]: 'jgt', [BPF.JGE_K]: 'jge', [BPF.JSET_K]: 'jset' }[insn.code] ??
          `0x${insn.code.toString(16)}`
        text = `${op.padEnd(4)} #0x${insn.k.toString(16)}, ${to(insn.jt)}, ${to(insn.jf)}`
        if (loaded === 'arch') note = AUDIT_NAMES.get(insn.k >>> 0)?.name ?? ''
        else if (loaded === 'nr' && arch)
          note = syscallName(arch, insn.k) ?? (insn.k === 0xffffffff ? 'tracer skip (-1)' : '')
      }
    }
    return `${at}: ${text}${note ? `  ; ${note}` : ''}`
  })
}
