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
  refer: 1n << 13n, // ABI 2
  truncate: 1n << 14n, // ABI 3
  ioctl_dev: 1n << 15n, // ABI 5
} as const

export const NET = { bind_tcp: 1n << 0n, connect_tcp: 1n << 1n } as const // ABI 4
export const SCOPE = { abstract_unix_socket: 1n << 0n, signal: 1n << 1n } as const // ABI 6
/** landlock_restrict_self flags (ABI 7). */
export const RESTRICT = { log_same_exec_off: 1, log_new_exec_on: 2, log_subdomains_off: 4 } as const

export const MAX_ABI = 7

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

const ABI1_FS = (1n << 13n) - 1n

export function fsRights(abi: number): bigint {
  if (abi < 1) return 0n
  let m = ABI1_FS
  if (abi >= 2) m |= FS.refer
  if (abi >= 3) m |= FS.truncate
  if (abi >= 5) m |= FS.ioctl_dev
  return m
}

export function netRights(abi: number): bigint {
  return abi >= 4 ? NET.bind_tcp | NET.connect_tcp : 0n
}

export function scopes(abi: number): bigint {
  return abi >= 6 ? SCOPE.abstract_unix_socket | SCOPE.signal : 0n
}

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

/** Names of the rights in mask, for explanations. */
export function describeAccess(mask: bigint): string {
  for (const [short, names] of Object.entries(SHORTHANDS)) if (accessMask(names).mask === mask) return short
  return Object.entries(ACCESS)
    .filter(([, bits]) => (mask & bits) === bits)
    .map(([n]) => n)
    .join(',')
}
