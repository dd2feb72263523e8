// Architectures the filter knows: audit arch values (linux/audit.h), how wide the syscall
// arguments are, libseccomp's names, and which entry points a host of each Node arch has. These
// two tables (ARCHES, HOST_ARCHES) are the one home of the supported architectures: flags,
// help, exports, the precompiled filters and the OCI runtime's features derive from them
// (test/architecture/knowledge.test.ts fails on another list). Adding an arch is a row in each,
// plus its syscall table (scripts/gen-syscalls.mjs).
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
  /** libseccomp's (and so the OCI runtime spec's) name. */
  scmp: string
  /** Name → number, parsed on first use. */
  readonly table: Readonly<Record<string, number>>
}

function arch(name: ArchName, audit: number, bits: 32 | 64, scmp: string, x32Bit?: number): ArchInfo {
  return {
    name,
    audit,
    bits,
    scmp,
    ...(x32Bit ? { x32Bit } : {}),
    get table() {
      return syscallTable(name)
    },
  }
}

export const X32_SYSCALL_BIT = 0x40000000

export const ARCHES: Readonly<Record<ArchName, ArchInfo>> = {
  x86_64: arch('x86_64', 0xc000003e, 64, 'SCMP_ARCH_X86_64', X32_SYSCALL_BIT),
  i386: arch('i386', 0x40000003, 32, 'SCMP_ARCH_X86'),
  aarch64: arch('aarch64', 0xc00000b7, 64, 'SCMP_ARCH_AARCH64'),
  riscv64: arch('riscv64', 0xc00000f3, 64, 'SCMP_ARCH_RISCV64'),
}

export const ARCH_NAMES = Object.keys(ARCHES) as ArchName[]

/** A host, by Node's name for its arch (process.arch). */
export type HostArch = 'x64' | 'arm64' | 'riscv64'

export interface HostArchInfo {
  /** The entry points a process there can use: native first, then compat ones. */
  entries: readonly ArchName[]
  /** Go's names (GOARCH), as Docker profiles' includes/excludes.arches write them. */
  go: readonly string[]
}

export const HOST_ARCHES: Readonly<Record<HostArch, HostArchInfo>> = {
  x64: { entries: ['x86_64', 'i386'], go: ['amd64', 'x86'] },
  arm64: { entries: ['aarch64'], go: ['arm64'] }, // 32-bit arm compat is killed as a foreign arch
  riscv64: { entries: ['riscv64'], go: ['riscv64'] },
}

export const HOST_ARCH_NAMES = Object.keys(HOST_ARCHES) as HostArch[]

/** The host arch of a Node name (x64) or of its native entry (x86_64); undefined otherwise. */
export function hostArchOf(name: string): HostArch | undefined {
  if (Object.hasOwn(HOST_ARCHES, name)) return name as HostArch
  return HOST_ARCH_NAMES.find((h) => HOST_ARCHES[h].entries[0] === name)
}

/** Every word hostArchOf accepts: the Node names, then the native entries' names. */
export const HOST_ARCH_WORDS: readonly string[] = [
  ...HOST_ARCH_NAMES,
  ...HOST_ARCH_NAMES.map((h) => HOST_ARCHES[h].entries[0]!).filter((n) => !Object.hasOwn(HOST_ARCHES, n)),
]

/** Entry points a process on this Node arch can use: native first, then compat ones. */
export function entryPoints(nodeArch: string): ArchInfo[] {
  const host = Object.hasOwn(HOST_ARCHES, nodeArch) ? HOST_ARCHES[nodeArch as HostArch] : undefined
  if (!host) throw new Error(`no syscall table for architecture ${nodeArch}`)
  return host.entries.map((name) => ARCHES[name])
}

/** An entry by its name (i386), or a host's native entry by its Node name (x64 → x86_64). */
export function archByName(name: string): ArchInfo | undefined {
  if (Object.hasOwn(ARCHES, name)) return ARCHES[name as ArchName]
  const host = Object.hasOwn(HOST_ARCHES, name) ? HOST_ARCHES[name as HostArch] : undefined
  return host && ARCHES[host.entries[0]!]
}

/** Host arches for help and errors: `x64 (x86_64 + i386 entry), arm64, riscv64`. */
export function describeHostArches(): string {
  return HOST_ARCH_NAMES.map((h) => {
    const [native, ...compat] = HOST_ARCHES[h].entries
    return compat.length ? `${h} (${native} + ${compat.join(' + ')} entry)` : h
  }).join(', ')
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
