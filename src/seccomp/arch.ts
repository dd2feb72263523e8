// Architectures the filter knows: audit arch values (linux/audit.h), how wide the syscall
// arguments are, and which entry points a host of each Node arch has.
import { suggest } from '../errors.js'
import { syscallTable } from './tables.js'

export type ArchName = 'x86_64' | 'i386' | 'aarch64' | 'riscv64'

export interface ArchInfo {
  name: ArchName
  audit: number
  /** 32-bit arches pass 32-bit arguments (the upper words in seccomp_data are zero). */
  bits: 32 | 64
  /** x86_64 shares its audit value with x32, whose numbers carry this bit: killed. */
  x32Bit?: number
  /** Name → number, parsed on first use. */
  readonly table: Readonly<Record<string, number>>
}

function arch(name: ArchName, audit: number, bits: 32 | 64, x32Bit?: number): ArchInfo {
  return {
    name,
    audit,
    bits,
    ...(x32Bit ? { x32Bit } : {}),
    get table() {
      return syscallTable(name)
    },
  }
}

export const X32_SYSCALL_BIT = 0x40000000

export const ARCHES: Readonly<Record<ArchName, ArchInfo>> = {
  x86_64: arch('x86_64', 0xc000003e, 64, X32_SYSCALL_BIT),
  i386: arch('i386', 0x40000003, 32),
  aarch64: arch('aarch64', 0xc00000b7, 64),
  riscv64: arch('riscv64', 0xc00000f3, 64),
}

/** Entry points a process on this Node arch can use: native first, then compat ones. */
export function entryPoints(nodeArch: string): ArchInfo[] {
  switch (nodeArch) {
    case 'x64':
      return [ARCHES.x86_64, ARCHES.i386]
    case 'arm64':
      return [ARCHES.aarch64] // 32-bit arm compat is killed as a foreign arch
    case 'riscv64':
      return [ARCHES.riscv64]
    default:
      throw new Error(`no syscall table for architecture ${nodeArch}`)
  }
}

export function archByName(name: string): ArchInfo | undefined {
  return (ARCHES as Record<string, ArchInfo>)[name === 'x64' ? 'x86_64' : name === 'arm64' ? 'aarch64' : name]
}

/** Name of syscall nr on arch, or undefined. */
export function syscallName(arch: ArchInfo, nr: number): string | undefined {
  return reverse(arch).get(nr)
}

const reverseCache = new Map<string, Map<number, string>>()
function reverse(arch: ArchInfo): Map<number, string> {
  let map = reverseCache.get(arch.name)
  if (!map) {
    map = new Map(Object.entries(arch.table).map(([name, nr]) => [nr, name]))
    reverseCache.set(arch.name, map)
  }
  return map
}

/** The highest syscall number the table knows. */
export function maxSyscall(arch: ArchInfo): number {
  return Math.max(...Object.values(arch.table))
}

let knownNames: Set<string> | undefined
/** Every syscall name some supported architecture has (built on first use). */
export function knownSyscallNames(): Set<string> {
  knownNames ??= new Set(Object.values(ARCHES).flatMap((a) => Object.keys(a.table)))
  return knownNames
}

/** undefined when some architecture has a syscall of that name; otherwise what to append to an
 * "unknown syscall" message: `; did you mean \`x\`?`, or nothing without a close name. */
export function unknownSyscallHint(name: string): string | undefined {
  if (knownSyscallNames().has(name)) return undefined
  const hint = suggest(name, [...knownSyscallNames()])
  return hint ? `; did you mean \`${hint}\`?` : ''
}
