// Falco's field names, mapped to what cordon's events carry. One table: the rules loader asks
// it which fields a rule lacks (the load report), the engine asks it for values. A field that is
// not here is one cordon cannot give (fd.num, fd.typechar, k8s.*…): a rule that needs one is not
// loaded, and an output that shows one prints `<NA>`, as Falco prints a field it lacks.
import { basename, dirname } from 'node:path'
import { hostname } from 'node:os'
import type { SandboxEvent } from '../run/events.js'
import { errnoName } from '../seccomp/resolve.js'
import type { Value } from './expr.js'
import { groupName, type ProcessTable, userName } from './proc-info.js'

/** What a field is computed from: the event, its sandbox and the sandbox's process table. */
export interface FieldContext {
  ev: SandboxEvent
  sandbox: string
  /** The pid the event is about, when it names one. */
  pid: number | undefined
  procs: ProcessTable
  /** The event's number in its sandbox's stream, from 1 (Falco's evt.num). */
  num: number
  /** A native field (monitor/engine.ts fieldsOf). */
  native: (name: string) => Value
}

type Resolver = (c: FieldContext, arg: string | undefined) => Value

const O_ACCMODE = 3
const O_CREAT = 0o100
const O_TRUNC = 0o1000

/** Open flags of an open/openat/openat2 call event, when the event carries them. */
function openFlags(ev: SandboxEvent): number | undefined {
  if (ev.event !== 'syscall') return undefined
  const i = ev.syscall === 'open' ? 1 : ev.syscall === 'openat' ? 2 : undefined
  return i === undefined ? undefined : Number((ev.args[i] ?? 0n) & 0xffffffffn)
}

const isExec = (ev: SandboxEvent) =>
  (ev.event === 'process' && ev.action === 'exec') ||
  (ev.event === 'syscall' && /^execve(at)?$/.test(ev.syscall))
const proc = (c: FieldContext) => (c.pid === undefined ? undefined : c.procs.info(c.pid))
const cmdline = (argv: string[] | undefined, name: string | undefined) =>
  argv && name !== undefined ? [name, ...argv.slice(1)].join(' ') : undefined
/** An absolute path the event names (Falco's fd.name for files). */
const filePath = (c: FieldContext) => {
  const p = c.native('path')
  return typeof p === 'string' && p.startsWith('/') ? p : undefined
}
const ancestorPid = (c: FieldContext, n: number) =>
  c.pid === undefined ? undefined : n === 0 ? c.pid : c.procs.ancestors(c.pid)[n - 1]

const index = (arg: string | undefined) => (arg === undefined ? undefined : Number(arg))

export const FALCO_FIELDS: Record<string, Resolver> = {
  // A syscall event is the call as it enters (the launcher answers it before it runs: `>`); a
  // process event is the kernel's report of an exec that happened or a process that ended (`<`).
  'evt.type': (c) =>
    c.ev.event === 'syscall'
      ? c.ev.syscall
      : c.ev.event === 'process'
        ? c.ev.action === 'exec'
          ? 'execve'
          : 'procexit'
        : undefined,
  'evt.num': (c) => c.num,
  'syscall.type': (c) => (c.ev.event === 'syscall' ? c.ev.syscall : undefined),
  'evt.dir': (c) => (c.ev.event === 'syscall' ? '>' : c.ev.event === 'process' ? '<' : undefined),
  'evt.time': () => new Date().toISOString(),
  'evt.time.iso8601': () => new Date().toISOString(),
  'evt.datetime': () => new Date().toISOString(),
  'evt.hostname': () => hostname(),
  'evt.source': () => 'syscall',
  'evt.failed': (c) => c.ev.event === 'syscall' && c.ev.errno !== undefined,
  'evt.res': (c) =>
    c.ev.event === 'syscall' ? (c.ev.errno !== undefined ? errnoName(c.ev.errno) : 'SUCCESS') : 'SUCCESS',
  'evt.is_open_read': (c) => {
    const f = openFlags(c.ev)
    return f === undefined ? undefined : (f & O_ACCMODE) !== 1
  },
  'evt.is_open_write': (c) => {
    const f = openFlags(c.ev)
    return f === undefined ? undefined : (f & O_ACCMODE) !== 0 || (f & (O_CREAT | O_TRUNC)) !== 0
  },
  'evt.is_open_create': (c) => {
    const f = openFlags(c.ev)
    return f === undefined ? undefined : (f & O_CREAT) !== 0
  },
  'evt.arg.path': (c) => c.native('path'),
  'evt.arg.pathname': (c) => c.native('path'),
  'evt.arg.name': (c) => c.native('path'),
  'evt.arg.filename': (c) => c.native('path'),
  'fd.name': (c) => filePath(c),
  'fd.directory': (c) => {
    const p = filePath(c)
    return p ? dirname(p) : undefined
  },
  'fd.filename': (c) => {
    const p = filePath(c)
    return p ? basename(p) : undefined
  },
  'proc.pid': (c) => c.pid,
  'proc.ppid': (c) => (c.pid === undefined ? undefined : c.procs.parent(c.pid)),
  // An exec names the program it runs; any other call, the program its process runs.
  'proc.name': (c) =>
    isExec(c.ev) ? c.native('program') : c.pid === undefined ? undefined : c.procs.name(c.pid),
  'proc.exepath': (c) => c.native('exe') ?? (c.pid === undefined ? undefined : c.procs.exe(c.pid)),
  'proc.exe': (c) => proc(c)?.argv[0] ?? c.native('exe'),
  'proc.cmdline': (c) => cmdline(proc(c)?.argv, FALCO_FIELDS['proc.name']!(c, undefined) as string),
  'proc.args': (c) => proc(c)?.argv.slice(1).join(' '),
  'proc.pname': (c) => {
    const p = ancestorPid(c, 1)
    return p === undefined ? undefined : c.procs.name(p)
  },
  'proc.pexepath': (c) => {
    const p = ancestorPid(c, 1)
    return p === undefined ? undefined : c.procs.exe(p)
  },
  'proc.pexe': (c) => {
    const p = ancestorPid(c, 1)
    return p === undefined ? undefined : (c.procs.info(p)?.argv[0] ?? c.procs.exe(p))
  },
  'proc.pcmdline': (c) => {
    const p = ancestorPid(c, 1)
    return p === undefined ? undefined : cmdline(c.procs.info(p)?.argv, c.procs.name(p))
  },
  // proc.aname[N]: the name N levels up (0 the process, 1 its parent); without N, any ancestor.
  'proc.aname': (c, arg) => {
    const n = index(arg)
    if (n === undefined) return c.pid === undefined ? undefined : names(c, c.procs.ancestors(c.pid))
    const p = ancestorPid(c, n)
    return p === undefined ? undefined : c.procs.name(p)
  },
  'proc.apid': (c, arg) => {
    const n = index(arg)
    if (n === undefined) return c.pid === undefined ? undefined : c.procs.ancestors(c.pid).map(String)
    return ancestorPid(c, n)
  },
  'proc.tty': (c) => proc(c)?.tty,
  // Falco ends it with a slash.
  'proc.cwd': (c) => {
    const cwd = proc(c)?.cwd
    return cwd === undefined ? undefined : cwd.endsWith('/') ? cwd : `${cwd}/`
  },
  'proc.is_exe_from_memfd': (c) => {
    const exe = FALCO_FIELDS['proc.exepath']!(c, undefined)
    return typeof exe === 'string' ? exe.startsWith('/memfd:') : undefined
  },
  'user.uid': (c) => proc(c)?.uid,
  'user.name': (c) => userName(proc(c)?.uid),
  'user.loginuid': (c) => {
    const l = proc(c)?.loginuid
    return l === undefined ? undefined : l === 4294967295 ? -1 : l
  },
  'user.loginname': (c) => userName(proc(c)?.loginuid),
  'group.gid': (c) => proc(c)?.gid,
  'group.name': (c) => groupName(proc(c)?.gid),
  // Every sandbox is a container of its own, named by its id.
  'container.id': (c) => c.sandbox,
  'container.name': (c) => c.sandbox,
  'container.info': (c) => `container_id=${c.sandbox}`,
  // A sandbox runs the host's files, from no image: empty, as Falco says for the host.
  'container.image': () => '',
  'container.image.repository': () => '',
  'container.image.tag': () => '',
}

function names(c: FieldContext, pids: number[]): string[] {
  return pids.map((p) => c.procs.name(p)).filter((n): n is string => n !== undefined)
}

type Field = { resolve: Resolver; arg: string | undefined } | undefined
// Rules name a few dozen fields, looked up on every event: parsed once each.
const parsed = new Map<string, Field>()

/** `proc.aname[2]` → the table's key and argument; undefined when cordon lacks the field. */
export function falcoField(name: string): Field {
  if (parsed.has(name)) return parsed.get(name)
  const field = parseField(name)
  if (parsed.size < 10_000) parsed.set(name, field)
  return field
}

function parseField(name: string): Field {
  const m = /^([\w.]+)(?:\[([^\]]*)\])?$/.exec(name)
  if (!m) return undefined
  const resolve = Object.hasOwn(FALCO_FIELDS, m[1]!) ? FALCO_FIELDS[m[1]!] : undefined
  if (!resolve) return undefined
  if (m[2] !== undefined && !/^\d+$/.test(m[2])) return undefined
  if (m[2] !== undefined && !['proc.aname', 'proc.apid'].includes(m[1]!)) return undefined
  return { resolve, arg: m[2] }
}
