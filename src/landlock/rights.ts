// Landlock rights per ABI (include/uapi/linux/landlock.h; 1-7 verified against an ABI 7 kernel).
// ABI 8-10 are pinned below as data (LATER) from mainline's UAPI and its users, but cordon does
// not handle them yet: handling FS_RESOLVE_UNIX or the UDP rights changes what programs may do
// (connecting to /dev/log, DNS over UDP) and has to be tested on a kernel that has them. Plans
// handle what ABI 7 knows and run unchanged on newer kernels (the table's last row applies);
// `cordon check` says which newer rights the running kernel has that cordon leaves unused.

export const FS = {
  execute: 1n << 0n,
  write_file: 1n << 1n,
  read_file: 1n << 2n,
  read_dir: 1n << 3n,
  remove_dir: 1n << 4n,
  remove_file: 1n << 5n,
  make_char: 1n << 6n,
  make_dir: 1n << 7n,
  make_reg: 1n << 8n,
  make_sock: 1n << 9n,
  make_fifo: 1n << 10n,
  make_block: 1n << 11n,
  make_sym: 1n << 12n,
  refer: 1n << 13n,
  truncate: 1n << 14n,
  ioctl_dev: 1n << 15n,
} as const

export const NET = { bind_tcp: 1n << 0n, connect_tcp: 1n << 1n } as const
export const SCOPE = { abstract_unix_socket: 1n << 0n, signal: 1n << 1n } as const
/** landlock_restrict_self flags. */
export const RESTRICT = { log_same_exec_off: 1, log_new_exec_on: 2, log_subdomains_off: 4 } as const

export type RightKind = 'fs' | 'net' | 'scope' | 'restrict'

/** What each ABI adds (row i is ABI i + 1): the one table of Landlock ABI facts. MAX_ABI, the
 * rights of an ABI (fsRights, netRights, scopes, restrictFlags) and the ABI a right needs
 * (abiFor, for the schema, the flags and the statuses) all derive from it, so supporting a new
 * ABI is one row here (and its tests on a kernel that has it). */
export const ABI_ADDS: readonly Readonly<Partial<Record<RightKind, bigint>>>[] = [
  { fs: (FS.make_sym << 1n) - 1n }, // 1: execute … make_sym
  { fs: FS.refer },
  { fs: FS.truncate },
  { net: NET.bind_tcp | NET.connect_tcp },
  { fs: FS.ioctl_dev },
  { scope: SCOPE.abstract_unix_socket | SCOPE.signal },
  { restrict: BigInt(RESTRICT.log_same_exec_off | RESTRICT.log_new_exec_on | RESTRICT.log_subdomains_off) },
]

export const MAX_ABI = ABI_ADDS.length

/** Everything of `kind` that ABI `abi` has: the rows up to it (ABIs past MAX_ABI get MAX_ABI's). */
function upTo(abi: number, kind: RightKind): bigint {
  return ABI_ADDS.slice(0, Math.max(0, abi)).reduce((m, row) => m | (row[kind] ?? 0n), 0n)
}

/** The first ABI that has every bit of `bits` of `kind`; throws for bits no ABI has. */
export function abiFor(kind: RightKind, bits: bigint): number {
  for (let abi = 1; abi <= MAX_ABI; abi++) if ((upTo(abi, kind) & bits) === bits) return abi
  throw new Error(`no Landlock ABI up to ${MAX_ABI} has ${kind} 0x${bits.toString(16)}`)
}

/** Rights and flags of the ABIs after MAX_ABI, with the ABI that brings each. */
export const LATER = [
  { abi: 8, name: 'restrict_self TSYNC', kind: 'flag', value: 1n << 3n, what: 'enforce on every thread' },
  { abi: 9, name: 'fs RESOLVE_UNIX', kind: 'fs', value: 1n << 16n, what: 'connect to pathname UNIX sockets' },
  { abi: 10, name: 'net BIND_UDP', kind: 'net', value: 1n << 2n, what: 'bind UDP ports' },
  { abi: 10, name: 'net CONNECT_SEND_UDP', kind: 'net', value: 1n << 3n, what: 'send UDP to ports' },
] as const

/** What a kernel at `abi` offers that cordon does not use yet, as a sentence (or undefined). */
export function unusedLater(abi: number): string | undefined {
  const unused = LATER.filter((r) => r.abi <= abi)
  if (!unused.length) return undefined
  return `not used by this cordon yet: ${unused.map((r) => `${r.name} (ABI ${r.abi}, ${r.what})`).join(', ')}; plans use ABI ${MAX_ABI}'s rights, and seccomp still refuses UDP where tcp ports are set`
}

/** Rights that apply to files (the rest only make sense on directories). */
export const FILE_RIGHTS = FS.execute | FS.write_file | FS.read_file | FS.truncate | FS.ioctl_dev

export const fsRights = (abi: number): bigint => upTo(abi, 'fs')
export const netRights = (abi: number): bigint => upTo(abi, 'net')
export const scopes = (abi: number): bigint => upTo(abi, 'scope')
export const restrictFlags = (abi: number): number => Number(upTo(abi, 'restrict'))

/** The ABIs the features a policy names need (schema descriptions, statuses, fixes). */
export const NET_ABI = abiFor('net', NET.bind_tcp | NET.connect_tcp)
export const SCOPE_ABI = abiFor('scope', SCOPE.abstract_unix_socket | SCOPE.signal)

/** Access names a policy uses, and the shorthands. */
export const ACCESS: Readonly<Record<string, bigint>> = {
  read: FS.read_file,
  readdir: FS.read_dir,
  write: FS.write_file,
  execute: FS.execute,
  create: FS.make_reg | FS.make_dir | FS.make_sym | FS.make_sock | FS.make_fifo,
  delete: FS.remove_file | FS.remove_dir,
  truncate: FS.truncate,
  'ioctl-dev': FS.ioctl_dev,
  refer: FS.refer,
  devices: FS.make_char | FS.make_block,
}

export const SHORTHANDS: Readonly<Record<string, readonly string[]>> = {
  ro: ['read', 'readdir'],
  rx: ['read', 'readdir', 'execute'],
  rw: ['read', 'readdir', 'execute', 'write', 'create', 'delete', 'truncate', 'refer'],
}

/** "rx" or ["read", "write"] → a mask; undefined names are reported by the caller. */
export function accessMask(names: readonly string[]): { mask: bigint; unknown: string[] } {
  let mask = 0n
  const unknown: string[] = []
  for (const n of names.flatMap((x) => SHORTHANDS[x] ?? [x])) {
    const bits = ACCESS[n]
    if (bits === undefined) unknown.push(n)
    else mask |= bits
  }
  return { mask, unknown }
}

/** Each shorthand's mask, made on first use: describeAccess runs for every rule of every plan
 * (its notes), ~200 per start of the default profile. */
let shorthandMasks: [string, bigint][] | undefined

/** Names of the rights in mask, for explanations. */
export function describeAccess(mask: bigint): string {
  shorthandMasks ??= Object.entries(SHORTHANDS).map(([short, names]) => [short, accessMask(names).mask])
  for (const [short, bits] of shorthandMasks) if (bits === mask) return short
  return Object.entries(ACCESS)
    .filter(([, bits]) => (mask & bits) === bits)
    .map(([n]) => n)
    .join(',')
}
