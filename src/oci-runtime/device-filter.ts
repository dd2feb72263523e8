// linux.resources.devices on cgroup v2: the rules compiled to an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE, which the launcher loads and attaches to the container's cgroup
// before the container joins it (plan op cgroup_devices, native/oci.c). cgroup v2 has no
// devices controller: without this program nothing would stand behind the rules (runc loads
// one too, libcontainer/cgroups/devices/devicefilter.go).
import { invalid, type OciDeviceRule } from './spec.js'

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, access_type being
// (access << 16) | type (include/uapi/linux/bpf.h).
const DEV_BLOCK = 1
const DEV_CHAR = 2
const ACC_MKNOD = 1
const ACC_READ = 2
const ACC_WRITE = 4

// Opcodes (include/uapi/linux/bpf_common.h, bpf.h).
const LDX_W = 0x61 // BPF_LDX | BPF_MEM | BPF_W
const MOV32_X = 0xbc // BPF_ALU | BPF_MOV | BPF_X
const MOV64_K = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K
const AND32_K = 0x54 // BPF_ALU | BPF_AND | BPF_K
const RSH32_K = 0x74 // BPF_ALU | BPF_RSH | BPF_K
const JEQ32_K = 0x16 // BPF_JMP32 | BPF_JEQ | BPF_K
const JNE32_K = 0x56 // BPF_JMP32 | BPF_JNE | BPF_K
const JNE32_X = 0x5e // BPF_JMP32 | BPF_JNE | BPF_X
const EXIT = 0x95 // BPF_JMP | BPF_EXIT

interface Insn {
  code: number
  dst: number
  src: number
  off: number
  imm: number
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({
  code,
  dst,
  src,
  off,
  imm,
})

function accessBits(access: string | undefined, field: string): number {
  let bits = 0
  for (const ch of access ?? 'rwm') {
    const bit = ch === 'r' ? ACC_READ : ch === 'w' ? ACC_WRITE : ch === 'm' ? ACC_MKNOD : 0
    if (!bit) throw invalid(`${field}.access`, 'letters of "rwm"', access)
    bits |= bit
  }
  return bits
}

/** One "c" or "b" rule's block: falls through to the next (earlier) rule unless it decides. */
function ruleBlock(r: OciDeviceRule, field: string): Insn[] {
  const checks: Insn[][] = [[insn(JNE32_K, 2, 0, 0, r.type === 'c' ? DEV_CHAR : DEV_BLOCK)]]
  const access = accessBits(r.access, field)
  // An allow rule decides only for a request it covers whole; a deny rule for any request that
  // asks one of its rights ("rw" against a "w" deny is denied, as cgroup v1 denies it).
  checks.push(
    r.allow
      ? [insn(MOV32_X, 1, 3, 0, 0), insn(AND32_K, 1, 0, 0, access), insn(JNE32_X, 1, 3, 0, 0)]
      : [insn(MOV32_X, 1, 3, 0, 0), insn(AND32_K, 1, 0, 0, access), insn(JEQ32_K, 1, 0, 0, 0)],
  )
  for (const [reg, n, name] of [
    [4, r.major, 'major'],
    [5, r.minor, 'minor'],
  ] as const) {
    if (n === undefined || n === null || n < 0) continue
    if (!Number.isInteger(n) || n > 0xffffffff) throw invalid(`${field}.${name}`, 'a device number', n)
    checks.push([insn(JNE32_K, reg, 0, 0, n | 0)])
  }
  const tail = [insn(MOV64_K, 0, 0, 0, r.allow ? 1 : 0), insn(EXIT, 0, 0, 0, 0)]
  const body = checks.flat()
  // Each conditional jump skips to the end of the block: past the rest of it and the tail.
  return [
    ...body.map((ins, i) =>
      ins.code === JNE32_K || ins.code === JNE32_X || ins.code === JEQ32_K
        ? { ...ins, off: body.length - i - 1 + tail.length }
        : ins,
    ),
    ...tail,
  ]
}

/**
 * The program for rules in the spec's order, with the cgroup v1 controller's (and runc's
 * emulator's, libcontainer/cgroups/devices) semantics: the list starts from "deny every device";
 * an "a" rule, whatever its numbers and access, resets the list to "allow every device" or "deny
 * every device" and drops the rules before it; of the rules after the last reset, the last one
 * that matches a request decides, and a request none matches gets the reset's answer. The rules
 * are read from the last one back.
 */
export function compileDeviceFilter(rules: readonly OciDeviceRule[], field: string): Uint8Array {
  const prologue = [
    insn(LDX_W, 2, 1, 0, 0), // r2 = access_type
    insn(MOV32_X, 3, 2, 0, 0),
    insn(AND32_K, 2, 0, 0, 0xffff), // w2 = type
    insn(RSH32_K, 3, 0, 0, 16), // w3 = access
    insn(LDX_W, 4, 1, 4, 0), // w4 = major
    insn(LDX_W, 5, 1, 8, 0), // w5 = minor
  ]
  let reset = -1
  rules.forEach((r, i) => {
    const type = r.type ?? 'a'
    if (type !== 'a' && type !== 'c' && type !== 'b')
      throw invalid(`${field}[${i}].type`, '"a", "c" or "b"', type)
    // Refused by name even where a later reset drops the rule.
    accessBits(r.access, `${field}[${i}]`)
    for (const [n, name] of [
      [r.major, 'major'],
      [r.minor, 'minor'],
    ] as const)
      if (typeof n === 'number' && n >= 0 && (!Number.isInteger(n) || n > 0xffffffff))
        throw invalid(`${field}[${i}].${name}`, 'a device number', n)
    if (type === 'a') reset = i
  })
  const blocks: Insn[] = []
  for (let i = rules.length - 1; i > reset; i--) blocks.push(...ruleBlock(rules[i]!, `${field}[${i}]`))
  const fallback = reset >= 0 && rules[reset]!.allow ? 1 : 0
  const all = [...prologue, ...blocks, insn(MOV64_K, 0, 0, 0, fallback), insn(EXIT, 0, 0, 0, 0)]
  const out = Buffer.alloc(all.length * 8)
  all.forEach((ins, i) => {
    out.writeUInt8(ins.code, i * 8)
    out.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1)
    out.writeInt16LE(ins.off, i * 8 + 2)
    out.writeInt32LE(ins.imm, i * 8 + 4)
  })
  return out
}
