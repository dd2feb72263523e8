// The terminal guard every sandbox gets until the seccomp compiler lands: ioctl(TIOCSTI) and
// ioctl(TIOCLINUX) fail EPERM, so a sandboxed program cannot type into the caller's shell.
// Arch is checked first (a foreign arch is killed), x32 numbers are killed, and the i386 entry
// point on x86_64 has its own check. The ioctl request is an unsigned int in the kernel, so only
// the low 32 bits of the argument are compared: high bits cannot smuggle a request past us.
import { CordonError } from '../errors.js'

const LD_ABS_W = 0x20
const JEQ_K = 0x15
const JGE_K = 0x35
const RET_K = 0x06

const RET_KILL_PROCESS = 0x80000000
const RET_ERRNO_EPERM = 0x00050001
const RET_ALLOW = 0x7fff0000
const X32_SYSCALL_BIT = 0x40000000
const TIOCSTI = 0x5412
const TIOCLINUX = 0x541c

interface ArchEntry {
  audit: number
  ioctl: number
  x32?: boolean
}

/** Entry points per Node arch: the native one first, then compat ones. */
const ARCHES: Record<string, ArchEntry[]> = {
  x64: [
    { audit: 0xc000003e, ioctl: 16, x32: true },
    { audit: 0x40000003, ioctl: 54 },
  ],
  arm64: [{ audit: 0xc00000b7, ioctl: 29 }],
  riscv64: [{ audit: 0xc00000f3, ioctl: 29 }],
}

type Insn = { code: number; jt: number | string; jf: number | string; k: number } | { label: string }

/** BPF for the guard on `arch` (process.arch naming). */
export function ttyGuard(arch: string = process.arch): Uint8Array {
  const entries = ARCHES[arch]
  if (!entries) throw new CordonError('internal', `no syscall table for architecture ${arch}`)
  const prog: Insn[] = [{ code: LD_ABS_W, jt: 0, jf: 0, k: 4 }]
  entries.forEach((e, i) => {
    const next = i + 1 < entries.length ? `arch${i + 1}` : 'kill'
    prog.push(
      { label: `arch${i}` },
      { code: JEQ_K, jt: 0, jf: next, k: e.audit >>> 0 },
      { code: LD_ABS_W, jt: 0, jf: 0, k: 0 },
    )
    if (e.x32) prog.push({ code: JGE_K, jt: 'kill', jf: 0, k: X32_SYSCALL_BIT })
    prog.push(
      { code: JEQ_K, jt: 0, jf: 'allow', k: e.ioctl },
      { code: LD_ABS_W, jt: 0, jf: 0, k: 24 }, // args[1], low word (little-endian)
      { code: JEQ_K, jt: 'deny', jf: 0, k: TIOCSTI },
      { code: JEQ_K, jt: 'deny', jf: 'allow', k: TIOCLINUX },
    )
  })
  prog.push(
    { label: 'kill' },
    { code: RET_K, jt: 0, jf: 0, k: RET_KILL_PROCESS },
    { label: 'deny' },
    { code: RET_K, jt: 0, jf: 0, k: RET_ERRNO_EPERM },
    { label: 'allow' },
    { code: RET_K, jt: 0, jf: 0, k: RET_ALLOW },
  )
  return assemble(prog)
}

function assemble(prog: Insn[]): Uint8Array {
  const labels = new Map<string, number>()
  let pc = 0
  for (const insn of prog) {
    if ('label' in insn) labels.set(insn.label, pc)
    else pc++
  }
  const out = Buffer.alloc(pc * 8)
  pc = 0
  for (const insn of prog) {
    if ('label' in insn) continue
    const rel = (j: number | string) => (typeof j === 'number' ? j : labels.get(j)! - pc - 1)
    out.writeUInt16LE(insn.code, pc * 8)
    out.writeUInt8(rel(insn.jt), pc * 8 + 2)
    out.writeUInt8(rel(insn.jf), pc * 8 + 3)
    out.writeUInt32LE(insn.k >>> 0, pc * 8 + 4)
    pc++
  }
  return out
}
