// Plan → bytes in the format native/plan.c decodes (see native/plan.h for the layout).
import { pathBytes } from '../host/path-bytes.js'
import { CordonError, describeValue } from '../errors.js'
import { type BindFlags, OP_CODES, PLAN_VERSION, type Plan, type PlanOp } from './model.js'

const CALLER = 0xffffffff
const MAGIC = [0x43, 0x52, 0x44, 0x4e] // "CRDN"
const NUL = new Uint8Array(1)
/** What execve takes of one string (MAX_ARG_STRLEN): native/plan.h PLAN_MAX_EXEC_STRING. */
const MAX_EXEC_STRING = 131072

/** Writes the plan into one growing buffer in place. A plan of the default profile has ~2,000
 * fields; a Buffer per field (allocated, zeroed, then concatenated) made encoding a visible
 * share of each `cordon run` and `spawn()` (issue 23). */
class Writer {
  private buf = Buffer.allocUnsafe(8192)
  private size = 0
  /** The op being written (`ops[55] (seccomp)`), for an error's message. */
  where = 'the header'
  /** A plan the caller made or edited (spawn() takes one) that does not hold what its op needs:
   * left to Buffer's coercions, a missing uid was written as 0 and a program that lost its bytes
   * (a Buffer through JSON) made the whole plan empty, for a launcher that then waited forever. */
  refuse(expected: string, got: unknown): never {
    throw new CordonError(
      'invalid_usage',
      `plan: ${this.where}: expected ${expected}, got ${describeValue(got)}; ` +
        'pass a plan as compilePlan() returns it (bytes as Uint8Array, 64-bit masks as bigint)',
    )
  }
  private room(n: number): number {
    if (this.size + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.size + n))
      this.buf.copy(grown, 0, 0, this.size)
      this.buf = grown
    }
    const at = this.size
    this.size += n
    return at
  }
  u16(v: number): this {
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff)) this.refuse('a 16-bit unsigned integer', v)
    const at = this.room(2) // first: it may replace this.buf
    this.buf.writeUInt16LE(v, at)
    return this
  }
  u32(v: number): this {
    // Negative values travel as their two's complement, as `>>> 0` writes them.
    if (!(Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff)) this.refuse('a 32-bit integer', v)
    const at = this.room(4) // first: it may replace this.buf
    this.buf.writeUInt32LE(v >>> 0, at)
    return this
  }
  /** A uid or gid: -1 (0xffffffff) is no id to the kernel ("leave it as it is"), and a uid of -1
   * ran the program as the caller's root; so it, and any number outside 0-0xfffffffe, is refused. */
  id(v: number): this {
    return this.u32(idOf(v, this))
  }
  /** Text that travels as bytes without a terminating NUL (a file's content, a hook's state). */
  text(v: string, field: string): this {
    if (typeof v !== 'string') this.refuse(`a string (${field})`, v)
    return this.blob(Buffer.from(v, 'utf8'))
  }
  u64(v: bigint): this {
    if (!(typeof v === 'bigint' && v >= 0n && v <= 0xffffffffffffffffn))
      this.refuse('a 64-bit unsigned bigint', v)
    const at = this.room(8) // first: it may replace this.buf
    this.buf.writeBigUInt64LE(v, at)
    return this
  }
  /** max: native/plan.h PLAN_MAX_STRING, or PLAN_MAX_EXEC_STRING for what goes to execve. */
  str(s: string, field: string, max = 4096): this {
    if (typeof s !== 'string') this.refuse(`a string (${field})`, s)
    // Exact bytes: a string may carry bytes that are not UTF-8 as lone surrogates (path-bytes.ts).
    const bytes = pathBytes(s)
    if (bytes.length === 0 || bytes.length > max || bytes.includes(0))
      throw new CordonError(
        'invalid_policy',
        // Nothing of the string itself: an environment value may be a secret (helper-114, -115).
        `${field} must be 1-${max} bytes without NUL, got ${bytes.length} bytes${bytes.includes(0) ? ' with a NUL' : ''}`,
      )
    return this.u32(bytes.length).push(bytes).push(NUL)
  }
  blob(b: Uint8Array): this {
    if (!(b instanceof Uint8Array)) this.refuse('bytes (a Uint8Array)', b)
    return this.u32(b.length).push(b)
  }
  push(b: Uint8Array): this {
    const at = this.room(b.length) // first: it may replace this.buf
    this.buf.set(b, at)
    return this
  }
  /** Where the next field goes, for patch(). */
  get offset(): number {
    return this.size
  }
  /** Overwrites a u32 written earlier (an op's length, known once its body is written). */
  patch(at: number, v: number): void {
    this.buf.writeUInt32LE(v >>> 0, at)
  }
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.size))
  }
}

/** fsmount's options, each ended by NUL: a NUL inside one would make two (`size=1M\0mode=4777`). */
function mountOptions(options: readonly string[], w: Writer): string {
  if (!Array.isArray(options)) w.refuse('mount options: an array of strings', options)
  for (const o of options)
    if (typeof o !== 'string' || !o || o.includes('\0'))
      w.refuse('a mount option: a non-empty string without NUL', o)
  return options.map((o) => `${o}\0`).join('')
}

/** A uid or gid, refused outside 0-0xfffffffe (Writer.id's check, for a field written with others). */
function idOf(v: number, w: Writer): number {
  if (!(Number.isInteger(v) && v >= 0 && v < 0xffffffff)) w.refuse('a uid or gid from 0 to 4294967294', v)
  return v
}

/** A whole number of the plan as a bigint (a size, a port), refused when it is not one. */
function bigintOf(v: number, w: Writer): bigint {
  if (!Number.isSafeInteger(v)) w.refuse('a whole number', v)
  return BigInt(v)
}

const BIND_FLAG_NAMES = new Set([
  'readOnly',
  'optional',
  'dev',
  'noexec',
  'idmap',
  'inView',
  'hostNames',
  'settled',
])

function bindFlags(f: BindFlags, w: Writer): number {
  // A typo (`readonly`) or a string would be no flag at all: a read-write bind, without a word.
  if (typeof f !== 'object' || f === null || Array.isArray(f)) w.refuse('bind flags: an object', f)
  for (const [name, value] of Object.entries(f))
    if (!BIND_FLAG_NAMES.has(name) || (value !== undefined && typeof value !== 'boolean'))
      w.refuse(
        `bind flags among ${[...BIND_FLAG_NAMES].join(', ')}, each true or false`,
        `${name}: ${String(value)}`,
      )
  return (
    (f.readOnly ? 1 : 0) |
    (f.optional ? 2 : 0) |
    (f.dev ? 4 : 0) |
    (f.noexec ? 8 : 0) |
    (f.idmap ? 16 : 0) |
    (f.inView ? 32 : 0) |
    (f.hostNames ? 64 : 0) |
    (f.settled ? 128 : 0)
  )
}

/** glibc's makedev(3): the dev_t the launcher passes to mknodat as it is. */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0)
  const mi = BigInt(minor >>> 0)
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn)
}

function body(op: PlanOp, w: Writer): void {
  switch (op.op) {
    case 'namespaces':
      w.u32(op.flags)
      break
    case 'uid_map':
    case 'gid_map':
      w.id(op.inside)
        .u32(op.outside === 'caller' ? CALLER : idOf(op.outside, w))
        .u32(op.count)
      break
    case 'keep_fd':
      w.u32(op.fd)
      break
    case 'env_set':
      // A name with `=` would set another variable (`A=B` and `x` set A to `B=x`).
      if (typeof op.name !== 'string' || !op.name || op.name.includes('='))
        w.refuse('a variable name: a non-empty string without `=`', op.name)
      if (typeof op.value !== 'string') w.refuse('a string (the value)', op.value)
      w.str(`${op.name}=${op.value}`, `env ${op.name}`, MAX_EXEC_STRING)
      break
    case 'env_pass':
      w.str(op.name, 'env name')
      break
    case 'exec_arg':
      w.str(op.arg, 'argument', MAX_EXEC_STRING)
      break
    case 'cgroup':
    case 'proc':
    case 'devpts':
    case 'remount_ro':
      w.str(op.op === 'cgroup' ? op.path : op.dest, op.op)
      break
    case 'chdir':
      w.str(op.path, 'cwd')
      break
    case 'setns':
      w.u32(op.type).str(op.path, 'namespace path')
      break
    case 'cgroup_devices':
      w.str(op.path, 'cgroup').blob(op.program)
      break
    case 'enter_root':
      w.str(op.path, 'root')
      break
    case 'fsmount':
      w.u32(op.attrs)
        .str(op.fstype, 'filesystem type')
        .str(op.dest, 'mount destination')
        .blob(Buffer.from(mountOptions(op.options, w), 'utf8'))
      break
    case 'mknod':
      for (const n of [op.major, op.minor])
        if (!(Number.isInteger(n) && n >= 0 && n <= 0xffffffff)) w.refuse('a device number', n)
      w.u32(op.mode).u64(makedev(op.major, op.minor)).id(op.uid).id(op.gid).str(op.dest, 'device path')
      break
    case 'propagation':
      w.u32(op.flags).str(op.dest, 'propagation mount')
      break
    case 'root':
      w.u32(op.mode)
      break
    case 'bind':
      w.u32(bindFlags(op.flags, w)).str(op.src, 'bind source').str(op.dest, 'bind destination')
      break
    case 'tmpfs':
      w.u64(bigintOf(op.size, w)).u32(op.mode).u32(bindFlags(op.flags, w)).str(op.dest, 'tmpfs destination')
      break
    case 'mkdir':
      w.u32(op.mode).str(op.dest, 'mkdir')
      break
    case 'symlink':
      w.str(op.target, 'symlink target').str(op.dest, 'symlink path')
      break
    case 'file':
      w.u32(op.mode).str(op.dest, 'file path').text(op.content, 'content')
      break
    case 'hostname':
      w.str(op.name, 'hostname')
      break
    case 'rlimit':
      w.u32(op.resource).u64(op.soft).u64(op.hard)
      break
    case 'ids':
      w.id(op.uid)
        .id(op.gid)
        .u32((op.setgroups ? 1 : 0) | (op.groups ? 2 : 0))
      if (op.groups) {
        if (!Array.isArray(op.groups)) w.refuse('groups: an array of gids', op.groups)
        const list = Buffer.alloc(op.groups.length * 4)
        op.groups.forEach((g, i) => list.writeUInt32LE(idOf(g, w), i * 4))
        w.blob(list)
      }
      break
    case 'caps':
      w.u64(op.keep).u64(op.hold ?? 0n)
      break
    case 'seccomp':
      w.u32(op.flags).blob(op.program)
      break
    case 'seccomp_notify':
      w.blob(op.program)
      break
    case 'landlock':
      w.u32(0).u32(op.required).u64(op.fileRights).u32(op.rows.length)
      for (const r of op.rows) w.u64(r.fs).u64(r.net).u64(r.scoped).u32(r.restrictFlags)
      break
    case 'landlock_path':
      w.u32((op.optional ? 1 : 0) | (op.nofollow ? 2 : 0))
        .u64(op.access)
        .str(op.path, 'landlock path')
      break
    case 'landlock_port':
      if (!(Number.isInteger(op.port) && op.port >= 0 && op.port <= 0xffff))
        w.refuse('a port from 0 to 65535', op.port)
      w.u64(op.access).u64(BigInt(op.port))
      break
    case 'hook':
    case 'start_hook':
      w.u32(op.timeout)
        .u32(op.statePid ? 1 : 0)
        .str(op.path, 'hook path')
        .text(op.state, 'state')
      break
    case 'hook_arg':
    case 'start_hook_arg':
      w.str(op.arg, 'hook argument')
      break
    case 'hook_env':
    case 'start_hook_env':
      w.str(op.env, 'hook environment')
      break
    case 'landlock_restrict':
    case 'seccomp_trace':
    case 'leave_mount_ns':
      break
    case 'die_with_parent':
    case 'init':
    case 'pivot_root':
    case 'loopback':
    case 'setsid':
    case 'no_new_privs':
      break
  }
}

/** Encodes a plan; the launcher rejects any other version. */
export function encodePlan(plan: Plan): Buffer {
  const w = new Writer().push(Buffer.from(MAGIC)).u16(PLAN_VERSION).u16(0).u32(0)
  const start = w.offset
  if (!Array.isArray(plan?.ops)) return w.refuse('a plan: an object with an `ops` array', plan)
  for (const [i, given] of plan.ops.entries()) {
    // Each field read once (a getter could answer the op's code one thing and its body another).
    const op: PlanOp = typeof given === 'object' && given !== null ? { ...given } : given
    const name: unknown = op?.op
    const code = typeof name === 'string' && Object.hasOwn(OP_CODES, name) ? OP_CODES[op.op] : undefined
    w.where = `ops[${i}]${typeof name === 'string' ? ` (${name})` : ''}`
    if (code === undefined) return w.refuse(`an op cordon knows (${Object.keys(OP_CODES).join(', ')})`, name)
    w.u16(code).u16(0).u32(0)
    const at = w.offset
    try {
      body(op, w)
    } catch (e) {
      // A field missing where the op reads into it (a bind without its flags).
      if (e instanceof TypeError) w.refuse(`the fields of a \`${op.op}\` op (${e.message})`, op)
      throw e
    }
    w.patch(at - 4, w.offset - at)
  }
  w.patch(start - 4, w.offset - start)
  return w.bytes()
}

const HEADER = MAGIC.length + 8

/** An encoded plan with `ops` placed after its first op, as bindRun places a run's cgroups: the
 * same bytes encodePlan gives for the plan with them there (test/plan/bind-bytes.test.ts). For
 * a plan kept encoded (run/plan-cache.ts), bound without being decoded. */
export function insertOpsAfterFirst(plan: Uint8Array, ops: readonly PlanOp[]): Buffer {
  const bytes = Buffer.from(plan.buffer, plan.byteOffset, plan.byteLength)
  if (!ops.length) return bytes
  const first = HEADER + 8 + bytes.readUInt32LE(HEADER + 4)
  const extra = encodePlan({ ops: [...ops], notes: [] }).subarray(HEADER)
  const out = Buffer.concat([bytes.subarray(0, first), extra, bytes.subarray(first)])
  out.writeUInt32LE(bytes.readUInt32LE(HEADER - 4) + extra.length, HEADER - 4)
  return out
}

/** Whether bytes are an encoded plan of this version whose ops fill it exactly: the magic, the
 * version, the ops' length, and each op's length within it. The launcher checks far more; this
 * is what a plan kept on disk must pass before a launcher is started on it. */
export function planIsWhole(bytes: Buffer): boolean {
  if (bytes.length < HEADER || !MAGIC.every((b, i) => bytes[i] === b)) return false
  if (bytes.readUInt16LE(MAGIC.length) !== PLAN_VERSION) return false
  if (bytes.readUInt32LE(HEADER - 4) !== bytes.length - HEADER) return false
  for (let at = HEADER; at < bytes.length;) {
    if (at + 8 > bytes.length) return false
    at += 8 + bytes.readUInt32LE(at + 4)
    if (at > bytes.length) return false
  }
  return true
}
