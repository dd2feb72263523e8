// OCI runtime-spec seccomp JSON (the format of Docker's default.json, containerd, Kubernetes
// Localhost profiles): export a SeccompSpec, import a profile as a seccomp layer.
//
// Semantics bridged: OCI/libseccomp rules are matched by name with "a rule with argument
// conditions is more specific than one without"; cordon's last matching rule wins. Export
// writes each syscall's resolved outcome (its unconditional action, then its conditional
// checks), so the two agree; import puts unconditional rules before conditional ones.
// What OCI cannot say is reported, never dropped silently.
import { release } from 'node:os'
import { type ArchInfo, entryPoints, knownSyscallNames } from './arch.js'
import { leafFor } from './compile.js'
import { type Action, type ArgCondition, actionKey, type SeccompSpec } from './model.js'
import type { RawArg, RawRule } from './profiles.js'
import type { SeccompLayer } from './resolve.js'

export interface OciArg {
  index: number
  value: number | bigint
  valueTwo?: number | bigint
  op: string
}

export interface OciRule {
  names: string[]
  action: string
  errnoRet?: number
  args?: OciArg[]
  comment?: string
  includes?: { arches?: string[]; caps?: string[]; minKernel?: string }
  excludes?: { arches?: string[]; caps?: string[]; minKernel?: string }
}

export interface OciProfile {
  defaultAction: string
  defaultErrnoRet?: number
  architectures?: string[]
  syscalls?: OciRule[]
}

const SCMP_ARCH: Record<string, string> = {
  x86_64: 'SCMP_ARCH_X86_64',
  i386: 'SCMP_ARCH_X86',
  aarch64: 'SCMP_ARCH_AARCH64',
  riscv64: 'SCMP_ARCH_RISCV64',
}
/** Go's names in includes/excludes.arches, per Node arch. */
const GO_ARCHES: Record<string, string[]> = { x64: ['amd64', 'x86'], arm64: ['arm64'], riscv64: ['riscv64'] }

const OPS: Record<string, ArgCondition['op']> = {
  SCMP_CMP_EQ: 'eq',
  SCMP_CMP_NE: 'ne',
  SCMP_CMP_LT: 'lt',
  SCMP_CMP_LE: 'le',
  SCMP_CMP_GT: 'gt',
  SCMP_CMP_GE: 'ge',
  SCMP_CMP_MASKED_EQ: 'masked-eq',
}

function ociAction(a: Action): { action: string; errnoRet?: number } {
  switch (a.kind) {
    case 'allow':
      return { action: 'SCMP_ACT_ALLOW' }
    case 'errno':
      return { action: 'SCMP_ACT_ERRNO', errnoRet: a.errno }
    case 'trace':
      return { action: 'SCMP_ACT_TRACE', errnoRet: a.data }
    case 'kill-process':
      return { action: 'SCMP_ACT_KILL_PROCESS' }
    case 'kill-thread':
      return { action: 'SCMP_ACT_KILL_THREAD' }
    case 'trap':
      return { action: 'SCMP_ACT_TRAP' }
    case 'log':
      return { action: 'SCMP_ACT_LOG' }
    case 'notify':
      return { action: 'SCMP_ACT_NOTIFY' }
    case 'deny-log':
      return { action: 'SCMP_ACT_ERRNO', errnoRet: a.errno }
    case 'respond':
      throw new Error('respond is internal to the launcher')
  }
}

/** A leaf "fallback F; but the default action when arg & MASK == 0" (F not the default), as
 * the bits of MASK: the call takes F exactly when one of them is set. */
function negatedFlags(
  leaf: ReturnType<typeof leafFor>,
  defaultKey: string,
): { index: number; bits: bigint[] } | undefined {
  const [check, ...more] = leaf.checks
  const cond = check?.args.length === 1 ? check.args[0]! : undefined
  if (
    !check ||
    more.length ||
    !cond ||
    cond.op !== 'masked-eq' ||
    cond.value !== 0n ||
    cond.mask === undefined
  )
    return undefined
  if (actionKey(check.action) !== defaultKey || actionKey(leaf.fallback) === defaultKey) return undefined
  const bits: bigint[] = []
  for (let b = 0n; b < (cond.width === 32 ? 32n : 64n); b++) if (cond.mask & (1n << b)) bits.push(1n << b)
  return { index: cond.index, bits }
}

const M32 = 0xffffffffn
const masked = (c: ArgCondition, mask: bigint, value: bigint): ArgCondition => ({
  index: c.index,
  op: 'masked-eq',
  mask,
  value: value & mask,
  width: 32,
})

/** The 32-bit values x with x OP v, as masked comparisons of the low word (prefixes of x): x > v
 * where x has a 1 at the first bit (from the top) where v has a 0, x < v the other way round. */
function prefixes(c: ArgCondition, v: bigint, above: boolean, orEqual: boolean): ArgCondition[] {
  const out: ArgCondition[] = orEqual ? [masked(c, M32, v)] : []
  for (let bit = 31n; bit >= 0n; bit--) {
    const b = 1n << bit
    if (((v & b) === 0n) !== above) continue
    const mask = M32 & ~(b - 1n) // this bit and the ones above it
    out.push(masked(c, mask, above ? (v & ~(b - 1n)) | b : v & ~((b << 1n) - 1n)))
  }
  return out
}

/** One condition as alternatives OCI can say. OCI has no set membership (`in` becomes one
 * alternative per value) and no width: its comparisons read all 64 bits, while the kernel reads
 * only the low word of an int argument, so `ioctl(fd, 1 << 32 | TIOCSTI)` would pass a 64-bit
 * "== TIOCSTI". A 32-bit condition becomes masked comparisons of the low word (as cordon's own
 * filter compares only that word): exact for every operator. */
function ociOptions(c: ArgCondition): ArgCondition[] {
  if (c.width === 64)
    return c.op === 'in' ? (c.values ?? []).map((value) => ({ ...c, op: 'eq' as const, value })) : [c]
  const v = BigInt.asUintN(64, c.value) & M32
  switch (c.op) {
    case 'eq':
      return [masked(c, M32, v)]
    case 'in':
      return (c.values ?? []).map((value) => masked(c, M32, BigInt.asUintN(64, value)))
    case 'masked-eq':
      return [masked(c, (c.mask ?? M32) & M32, v)]
    case 'ne': // some bit differs
      return Array.from({ length: 32 }, (_, i) => 1n << BigInt(i)).map((b) => masked(c, b, ~v))
    case 'gt':
    case 'ge':
      return prefixes(c, v, true, c.op === 'ge')
    case 'lt':
    case 'le':
      return prefixes(c, v, false, c.op === 'le')
  }
}

/** A check's conditions as OCI rules: the product of each condition's alternatives. */
function alternatives(args: ArgCondition[]): ArgCondition[][] {
  let out: ArgCondition[][] = [[]]
  for (const c of args) {
    const options = ociOptions(c)
    out = out.flatMap((prefix) => options.map((o) => [...prefix, o]))
  }
  return out
}

function ociArg(c: ArgCondition): OciArg {
  const op = Object.entries(OPS).find(([, v]) => v === c.op)![0]
  return c.op === 'masked-eq'
    ? { index: c.index, op, value: c.mask ?? 0xffffffffffffffffn, valueTwo: c.value }
    : { index: c.index, op, value: c.value }
}

export interface OciExport {
  profile: OciProfile
  /** What the OCI format could not express exactly. */
  warnings: string[]
}

/** Exports spec for the entry points of nodeArch (default: this host). */
export function exportOci(spec: SeccompSpec, nodeArch: string = process.arch): OciExport {
  const arches = entryPoints(nodeArch)
  const warnings = new Set<string>()
  const names = [...new Set(arches.flatMap((a) => Object.keys(a.table)))].sort()
  const defaultKey = actionKey(spec.defaultAction)
  const plain = new Map<string, string[]>()
  const conditional: OciRule[] = []
  const actions = new Map<string, Action>()
  for (const name of names) {
    const leaf = leafFor(spec, name)
    const key = actionKey(leaf.fallback)
    const negated = negatedFlags(leaf, defaultKey)
    if (negated) {
      // libseccomp (runc, crun) lets an unconditional rule win over a conditional one for the
      // same syscall, so "refuse clone unless no namespace flag is set" becomes one rule per
      // flag: refuse when that bit is set; everything else takes the default.
      for (const bit of negated.bits)
        conditional.push({
          names: [name],
          ...ociAction(leaf.fallback),
          args: [{ index: negated.index, op: 'SCMP_CMP_MASKED_EQ', value: bit, valueTwo: bit }],
        })
      continue
    }
    if (key !== defaultKey) {
      plain.set(key, [...(plain.get(key) ?? []), name])
      actions.set(key, leaf.fallback)
    }
    if (leaf.checks.length > 1 && new Set(leaf.checks.map((c) => actionKey(c.action))).size > 1)
      warnings.add(
        `${name}: several argument checks with different actions; OCI runtimes resolve overlaps their own way`,
      )
    for (const check of [...leaf.checks].reverse()) {
      for (const alt of alternatives(check.args))
        conditional.push({ names: [name], ...ociAction(check.action), args: alt.map(ociArg) })
    }
  }
  if (spec.rules.some((r) => r.action.kind === 'notify'))
    warnings.add('notify needs a listenerPath in the OCI runtime configuration')
  if (spec.rules.some((r) => r.action.kind === 'deny-log'))
    warnings.add('deny-log exported as errno: OCI runtimes refuse the call but do not report it')
  warnings.add("syscalls newer than cordon's tables get the default action in OCI runtimes, not ENOSYS")
  const def = ociAction(spec.defaultAction)
  const syscalls: OciRule[] = [
    ...[...plain.entries()].map(([key, list]) => ({ names: list, ...ociAction(actions.get(key)!) })),
    ...conditional,
  ]
  return {
    profile: {
      defaultAction: def.action,
      ...(def.errnoRet !== undefined ? { defaultErrnoRet: def.errnoRet } : {}),
      architectures: arches.map((a: ArchInfo) => SCMP_ARCH[a.name]!),
      syscalls,
    },
    warnings: [...warnings],
  }
}

/** JSON with 64-bit values written as exact integers (a profile, or a config holding one). */
export function stringifyOci(profile: OciProfile | object): string {
  return JSON.stringify(profile, (_k, v) => (typeof v === 'bigint' ? `__u64:${v}` : v), 2).replace(
    /"__u64:(\d+)"/g,
    '$1',
  )
}

/** JSON.parse that keeps integers above 2^53 exact (as bigint). */
export function parseOci(text: string): OciProfile {
  const marked = text.replace(/(:\s*)(\d{16,})(\s*[,}\]])/g, '$1"__u64:$2"$3')
  return JSON.parse(marked, (_k, v) =>
    typeof v === 'string' && v.startsWith('__u64:') ? BigInt(v.slice(6)) : v,
  )
}

export interface ImportOptions {
  /** Capabilities the sandbox keeps (includes/excludes.caps); cordon keeps none by default. */
  caps?: string[]
  /** Kernel version for includes.minKernel (default: this host). */
  kernel?: string
  /** Node arch for includes/excludes.arches (default: this host). */
  arch?: string
  origin?: string
}

function kernelAtLeast(kernel: string, min: string): boolean {
  const a = kernel.split(/[.-]/).map(Number)
  const b = min.split('.').map(Number)
  for (let i = 0; i < b.length; i++) {
    if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

function actionText(action: string, errnoRet: number | undefined): string {
  switch (action) {
    case 'SCMP_ACT_ALLOW':
      return 'allow'
    case 'SCMP_ACT_ERRNO':
      return `errno(${errnoRet ?? 1})`
    case 'SCMP_ACT_TRACE':
      return `trace(${errnoRet ?? 0})`
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return 'kill-thread'
    case 'SCMP_ACT_KILL_PROCESS':
      return 'kill-process'
    case 'SCMP_ACT_TRAP':
      return 'trap'
    case 'SCMP_ACT_LOG':
      return 'log'
    case 'SCMP_ACT_NOTIFY':
      return 'notify'
    default:
      return action // resolveSeccomp reports it as an unknown action
  }
}

export interface OciImport {
  layer: SeccompLayer
  skipped: { rules: number; names: string[] }
}

/** An OCI profile → a seccomp layer on profile `none`, for this host's arch, caps and kernel. */
export function importOci(profile: OciProfile, options: ImportOptions = {}): OciImport {
  const caps = new Set((options.caps ?? []).map((c) => c.toUpperCase().replace(/^(?!CAP_)/, 'CAP_')))
  const kernel = options.kernel ?? release()
  const goArches = GO_ARCHES[options.arch ?? process.arch] ?? []
  const known = knownSyscallNames()
  const applies = (r: OciRule) => {
    const inc = r.includes ?? {}
    const exc = r.excludes ?? {}
    if (inc.arches?.length && !inc.arches.some((a) => goArches.includes(a))) return false
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) return false
    if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) return false
    if (exc.arches?.some((a) => goArches.includes(a))) return false
    if (exc.caps?.some((c) => caps.has(c))) return false
    if (exc.minKernel && kernelAtLeast(kernel, exc.minKernel)) return false
    return true
  }
  const unknownNames = new Set<string>()
  let skippedRules = 0
  const unconditional: RawRule[] = []
  const conditional: RawRule[] = []
  for (const r of profile.syscalls ?? []) {
    if (!applies(r)) {
      skippedRules++
      continue
    }
    const syscalls = r.names.filter((n) => known.has(n) || (unknownNames.add(n), false))
    if (syscalls.length === 0) continue
    const args: RawArg[] = (r.args ?? []).map((a) => {
      const op = OPS[a.op] ?? 'eq'
      return op === 'masked-eq'
        ? { index: a.index, op, mask: String(a.value), value: String(a.valueTwo ?? 0) }
        : { index: a.index, op, value: String(a.value) }
    })
    const rule: RawRule = {
      syscalls,
      action: actionText(r.action, r.errnoRet),
      ...(args.length ? { args } : {}),
    }
    ;(args.length ? conditional : unconditional).push(rule)
  }
  return {
    layer: {
      profile: 'none',
      default: actionText(profile.defaultAction, profile.defaultErrnoRet),
      rules: [...unconditional, ...conditional],
      origin: options.origin ?? 'OCI profile',
    },
    skipped: { rules: skippedRules, names: [...unknownNames] },
  }
}
