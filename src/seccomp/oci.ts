// OCI runtime-spec seccomp JSON (the format of Docker's default.json, containerd, Kubernetes
// Localhost profiles): export a SeccompSpec, import a profile as a seccomp layer.
//
// Semantics bridged: cordon's last matching rule wins; libseccomp (runc, crun) lets a rule
// without arguments win over conditional rules for the same syscall, and runc drops rules whose
// action is the default. Export therefore writes each syscall as disjoint argument regions,
// only those whose action is not the default, so any precedence gives cordon's decision
// (test/export/oci-libseccomp.test.ts checks it against libseccomp itself); import puts
// unconditional rules before conditional ones. What OCI cannot say is reported, never dropped
// silently.
import { release } from 'node:os'
import { type ArchInfo, entryPoints, HOST_ARCHES, hostArchOf, knownSyscallNames } from './arch.js'
import { type Action, type ArgCondition, actionKey, leafFor, type SeccompSpec } from './model.js'
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

const M32 = 0xffffffffn
const M64 = 0xffffffffffffffffn

/** The values of one argument whose bits under mask equal value: the only comparison the
 * export writes (SCMP_CMP_MASKED_EQ, or SCMP_CMP_EQ for a full mask), since every condition
 * and its complement are unions of such patterns. */
interface Pattern {
  mask: bigint
  value: bigint
}
/** A conjunction of patterns, one per argument index. */
type Cube = ReadonlyMap<number, Pattern>

/** The values x (of `bits` bits) with x OP v, as patterns on the prefixes of x: x > v where x
 * has a 1 at the first bit (from the top) where v has a 0, x < v the other way round. */
function prefixes(v: bigint, bits: bigint, above: boolean, orEqual: boolean): Pattern[] {
  const all = (1n << bits) - 1n
  const out: Pattern[] = orEqual ? [{ mask: all, value: v }] : []
  for (let bit = bits - 1n; bit >= 0n; bit--) {
    const b = 1n << bit
    if (((v & b) === 0n) !== above) continue
    const mask = all & ~(b - 1n) // this bit and the ones above it
    out.push({ mask, value: above ? (v & ~(b - 1n)) | b : v & ~((b << 1n) - 1n) })
  }
  return out
}

/** One condition as the union of patterns it means. A `width: 32` condition reads only the low
 * word, as the kernel does for an int (and cordon's own filter): its patterns mask the high word
 * out, so `ioctl(fd, 1 << 32 | TIOCSTI)` cannot pass a 64-bit "== TIOCSTI". */
function patterns(c: ArgCondition): Pattern[] {
  const bits = c.width === 32 ? 32n : 64n
  const all = c.width === 32 ? M32 : M64
  const v = BigInt.asUintN(64, c.value) & all
  switch (c.op) {
    case 'eq':
      return [{ mask: all, value: v }]
    case 'in':
      return (c.values ?? []).map((x) => ({ mask: all, value: BigInt.asUintN(64, x) & all }))
    case 'masked-eq': {
      const mask = BigInt.asUintN(64, c.mask ?? M64) & all
      return [{ mask, value: v & mask }]
    }
    case 'ne': // some bit differs
      return Array.from({ length: Number(bits) }, (_, i) => 1n << BigInt(i)).map((b) => ({
        mask: b,
        value: ~v & b,
      }))
    case 'gt':
    case 'ge':
      return prefixes(v, bits, true, c.op === 'ge')
    case 'lt':
    case 'le':
      return prefixes(v, bits, false, c.op === 'le')
  }
}

/** A check's conditions (all must hold) as a union of cubes: the product of each condition's
 * patterns, contradictory combinations left out. */
function cubes(args: ArgCondition[]): Cube[] {
  let out: Cube[] = [new Map()]
  for (const c of args) {
    const options = patterns(c)
    out = out.flatMap((cube) => options.flatMap((p) => meet(cube, c.index, p) ?? []))
  }
  return out
}

/** cube ∧ (arg index matches p), or undefined when they contradict. */
function meet(cube: Cube, index: number, p: Pattern): Cube | undefined {
  const q = cube.get(index)
  if (q && (q.value & p.mask) !== (p.value & q.mask)) return undefined
  const out = new Map(cube)
  out.set(index, q ? { mask: q.mask | p.mask, value: q.value | p.value } : p)
  return out
}

interface Region {
  cube: Cube
  action: Action
}

/** The leaf as disjoint regions covering every argument value, each with its action: cordon's
 * first-matching-check semantics, decided bit by bit. Disjoint regions make the profile mean the
 * same under any precedence a runtime applies to overlapping rules (libseccomp lets a rule
 * without arguments win over conditional ones, and refuses rules with the default action). */
function regions(ordered: Region[], fixed: Cube): Region[] {
  const live = ordered.filter((r) => [...r.cube].every(([i, p]) => meet(fixed, i, p)))
  const first = live[0]!
  for (const [index, p] of [...first.cube].sort(([a], [b]) => a - b)) {
    const known = fixed.get(index)?.mask ?? 0n
    const open = p.mask & ~known
    if (open === 0n) continue
    let bit = 1n << 63n
    while (!(open & bit)) bit >>= 1n
    const zeroCube = meet(fixed, index, { mask: bit, value: 0n })!
    const oneCube = meet(fixed, index, { mask: bit, value: bit })!
    const zero = regions(live, zeroCube)
    const one = regions(live, oneCube)
    // Both halves one region with one action: the split said nothing.
    if (
      zero.length === 1 &&
      one.length === 1 &&
      actionKey(zero[0]!.action) === actionKey(one[0]!.action) &&
      sameCube(zero[0]!.cube, zeroCube) &&
      sameCube(one[0]!.cube, oneCube)
    )
      return [{ cube: fixed, action: zero[0]!.action }]
    return [...zero, ...one]
  }
  return [{ cube: fixed, action: first.action }]
}

const sameCube = (a: Cube, b: Cube) =>
  a.size === b.size && [...a].every(([i, p]) => b.get(i)?.mask === p.mask && b.get(i)?.value === p.value)

function ociArgs(cube: Cube): OciArg[] {
  return [...cube]
    .filter(([, p]) => p.mask !== 0n)
    .sort(([a], [b]) => a - b)
    .map(([index, p]) =>
      p.mask === M64
        ? { index, op: 'SCMP_CMP_EQ', value: p.value }
        : { index, op: 'SCMP_CMP_MASKED_EQ', value: p.mask, valueTwo: p.value },
    )
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
  // Rules with the same action and arguments share one entry: unconditional ones first.
  const grouped = new Map<string, OciRule>()
  for (const name of names) {
    const leaf = leafFor(spec, name)
    const ordered: Region[] = [
      ...leaf.checks.flatMap((c) => cubes(c.args).map((cube) => ({ cube, action: c.action }))),
      { cube: new Map(), action: leaf.fallback },
    ]
    for (const r of regions(ordered, new Map())) {
      if (actionKey(r.action) === defaultKey) continue
      const args = ociArgs(r.cube)
      const key = stringifyOci({ a: actionKey(r.action), args })
      const rule = grouped.get(key)
      if (rule) rule.names.push(name)
      else grouped.set(key, { names: [name], ...ociAction(r.action), ...(args.length ? { args } : {}) })
    }
  }
  if (spec.rules.some((r) => r.action.kind === 'notify'))
    warnings.add('notify needs a listenerPath in the OCI runtime configuration')
  if (spec.rules.some((r) => r.action.kind === 'deny-log'))
    warnings.add('deny-log exported as errno: OCI runtimes refuse the call but do not report it')
  warnings.add("syscalls newer than cordon's tables get the default action in OCI runtimes, not ENOSYS")
  warnings.add(
    'runtimes skip the rules of syscalls their libseccomp does not know, which then get the default action (runc 1.1 with libseccomp 2.5.4: listmount, statmount, lsm_set_self_attr, open_tree_attr)',
  )
  const def = ociAction(spec.defaultAction)
  const rules = [...grouped.values()]
  const syscalls = [...rules.filter((r) => !r.args), ...rules.filter((r) => r.args)]
  return {
    profile: {
      defaultAction: def.action,
      ...(def.errnoRet !== undefined ? { defaultErrnoRet: def.errnoRet } : {}),
      architectures: arches.map((a: ArchInfo) => a.scmp),
      syscalls,
    },
    warnings: [...warnings],
  }
}

/** JSON with 64-bit values written as exact integers (a profile, or a config holding one). */
export function stringifyOci(profile: OciProfile | object): string {
  return JSON.stringify(profile, (_k, v: unknown) => (typeof v === 'bigint' ? `__u64:${v}` : v), 2).replace(
    /"__u64:(\d+)"/g,
    '$1',
  )
}

/** JSON.parse that keeps integers above 2^53 exact (as bigint). */
export function parseOci(text: string): OciProfile {
  const marked = text.replace(/(:\s*)(\d{16,})(\s*[,}\]])/g, '$1"__u64:$2"$3')
  return JSON.parse(marked, (_k, v: unknown) =>
    typeof v === 'string' && v.startsWith('__u64:') ? BigInt(v.slice(6)) : v,
  ) as OciProfile
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
  const host = hostArchOf(options.arch ?? process.arch)
  const goArches = host ? HOST_ARCHES[host].go : []
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
