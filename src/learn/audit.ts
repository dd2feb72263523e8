// Audit mode: what a policy would have refused in a run that was let through. Each recorded
// call is judged against the policy: the syscall by its seccomp outcome (the reference
// evaluator, with the call's real arguments), each file it named by the view and the Landlock
// rights, each address by the network statements. Every finding says what rule would allow it.
import { statSync } from 'node:fs'
import { landlockRules } from '../plan/landlock.js'
import { ACCESS } from '../landlock/rights.js'
import { enforcedSeccomp, withoutTcp } from '../policy/effective.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import type { SyscallEvent } from '../run/events.js'
import { ARCHES, type ArchName, entryPoints } from '../seccomp/arch.js'
import { RET } from '../seccomp/bpf.js'
import { evaluateSpec } from '../seccomp/reference.js'
import { errnoName } from '../seccomp/resolve.js'
import { type FileAccess, fileAccesses, NARROW_ON, parseSockaddr } from './observation.js'
import { fsPath, kindOf, normalPath, resolveOnHost, under } from './paths.js'
import { yamlScalar as q } from './yaml-writer.js'
import { callerCwd } from '../host/path-bytes.js'

export interface Violation {
  layer: 'seccomp' | 'filesystem' | 'landlock' | 'network'
  /** What the program did: `mkdir /srv/app/cache`, `socket(AF_INET6…)`, `connect 10.0.0.1:5432`. */
  what: string
  /** What the policy would have done. */
  outcome: string
  /** The policy change that would allow it. */
  suggestion: string
  pid: number
}

function describeReturn(ret: number): string | undefined {
  const action = (ret & 0xffff0000) >>> 0
  if (action === RET.KILL_PROCESS) return 'kill-process'
  if (action === RET.KILL_THREAD) return 'kill-thread'
  if (action === RET.ERRNO) return `errno(${errnoName(ret & 0xffff)})`
  if (action === RET.TRAP) return 'trap'
  // `cordon run` attaches no tracer: the kernel fails a RET_TRACE call with ENOSYS.
  if (action === RET.TRACE) return 'trace: ENOSYS (no tracer is attached)'
  return undefined // allow, log, notify: the call goes through
}

const RIGHT: Record<FileAccess, bigint> = {
  read: ACCESS.read!,
  list: ACCESS.readdir!,
  write: ACCESS.write!,
  exec: ACCESS.execute!,
  create: ACCESS.create!,
  delete: ACCESS.delete!,
  lookup: 0n,
}
const NEED: Record<FileAccess, string> = {
  read: 'ro',
  list: 'ro',
  exec: 'rx',
  write: 'rw',
  create: 'rw',
  delete: 'rw',
  lookup: 'ro',
}

/** SO_TYPE and SO_PROTOCOL of a TCP socket (a syscall event's sockType, sockProto). */
const SOCK_STREAM = 1
const IPPROTO_TCP = 6

/** `socket(AF_INET, SOCK_DGRAM)`: which IP socket a tcp: section refused (one finding per kind,
 * where the family alone lumped UDP, raw and MPTCP together). */
function ipSocket(args: readonly bigint[]): string {
  const [family = 0n, type = 0n, protocol = 0n] = args
  const name = (names: Record<string, string>, v: bigint) => names[String(v)] ?? `0x${v.toString(16)}`
  const parts = [
    name({ 2: 'AF_INET', 10: 'AF_INET6' }, family & 0xffffn),
    name({ 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 5: 'SOCK_SEQPACKET' }, type & 0xfn),
  ]
  if (protocol & 0xffffffffn)
    parts.push(name({ 6: 'IPPROTO_TCP', 17: 'IPPROTO_UDP', 262: 'IPPROTO_MPTCP' }, protocol & 0xffffffffn))
  return `socket(${parts.join(', ')})`
}

const isLoopback = (address: string) => address.startsWith('127.') || address === '::1'

/** The order a call's accesses to one path are judged in: the first refused one is the call's
 * verdict. Creating needs the directory, which grants writing the file too, so a write that
 * creates is one denial with one grant, as enforcement refuses it once. */
const JUDGED_FIRST: FileAccess[] = ['create', 'delete', 'write', 'exec', 'read', 'list', 'lookup']

export class Auditor {
  private readonly spec
  /** The filter without `tcp:`'s layer (seccomp/network.ts TCP_ONLY), to tell its denials. */
  private readonly specWithoutTcp: ReturnType<typeof enforcedSeccomp> | undefined
  private readonly rules
  private readonly seen = new Set<string>()
  /** What would-be-denied calls created in this run: enforced, they do not exist, so a call
   * under one (`mkdir -p a/b` after `a` was refused) is never made; it is no denial of its own. */
  private readonly phantoms: string[] = []
  readonly violations: Violation[] = []
  /** Calls the policy answers ENOSYS (clone3 → clone): how it steers libc to an older call the
   * program falls back to, reported apart from denials. */
  readonly fallbacks: Violation[] = []

  /** ms since the epoch, before the audited run started: a file born earlier was there. */
  private readonly startedAt = Date.now()

  constructor(private readonly policy: ResolvedPolicy) {
    this.spec = enforcedSeccomp(policy)
    if (policy.tcp) this.specWithoutTcp = enforcedSeccomp(withoutTcp(policy))
    this.rules = landlockRules(policy).map((r) => ({ ...r, path: normalPath(r.path) ?? r.path }))
  }

  /** Records a would-be denial; true (also for one already recorded): the call is refused. */
  private add(v: Violation): true {
    // One finding per object and grant: a stat and an open of one hidden file are one denial
    // with one fix, as they are one refusal to the program.
    const object = v.layer === 'filesystem' || v.layer === 'landlock' ? v.what.replace(/^\w+ /, '') : v.what
    const key = `${v.layer}\0${object}\0${v.outcome}\0${v.suggestion}`
    if (this.seen.has(key)) return true
    this.seen.add(key)
    if (v.outcome === 'errno(ENOSYS)') this.fallbacks.push(v)
    else this.violations.push(v)
    return true
  }

  judge(ev: SyscallEvent): void {
    const arch = ARCHES[ev.arch as ArchName]
    if (arch) {
      const ret = evaluateSpec(this.spec, entryPoints(process.arch), arch.audit, ev.nr, ev.args)
      const outcome = describeReturn(ret)
      // Refused by `tcp:` alone (a UDP socket, fast open, listen): no seccomp rule of the policy's
      // can allow it, since the layer is added after them; only the section's removal does.
      const byTcp =
        outcome !== undefined &&
        this.specWithoutTcp !== undefined &&
        describeReturn(
          evaluateSpec(this.specWithoutTcp, entryPoints(process.arch), arch.audit, ev.nr, ev.args),
        ) === undefined
      if (outcome) {
        const index = NARROW_ON[ev.syscall]
        const value = index === undefined ? undefined : (ev.args[index] ?? 0n)
        this.add({
          layer: 'seccomp',
          what:
            byTcp && ev.syscall === 'socket'
              ? ipSocket(ev.args)
              : value === undefined
                ? ev.syscall
                : `${ev.syscall}(arg${index}=0x${value.toString(16)})`,
          outcome: byTcp ? `${outcome} (the tcp: section's seccomp layer)` : outcome,
          suggestion: byTcp
            ? 'no tcp: section (its port rules judge TCP bind and connect alone, so with one cordon refuses what they cannot judge: other IP sockets, fast open, listen() without a bind port)'
            : value === undefined
              ? `seccomp.rules: { syscalls: [${ev.syscall}], action: allow }`
              : `seccomp.rules: { syscalls: [${ev.syscall}], action: allow, args: [{ index: ${index}, op: eq, width: 32, value: ${value} }] }`,
          pid: ev.pid,
        })
      }
    }
    for (const [raw, accesses] of fileAccesses(ev)) {
      const path = normalPath(raw)
      if (!path || this.phantoms.some((p) => under(path, p) && path !== p)) continue
      // An open that creates also writes: judged the same whether or not the file exists yet
      // when the event is read (the call goes on as soon as the launcher answers).
      // What was there before the run is there enforced too: creating it again is EEXIST (mkdir)
      // or a plain open, and the grant the call needs is the file's own, not its directory's.
      const was = accesses.includes('create') && bornBefore(path, this.startedAt)
      const creates = accesses.includes('create') && !was
      const judged = JUDGED_FIRST.filter((a) => accesses.includes(a) && !(was && a === 'create'))
      const refused = judged.find((a) => this.judgeFile(path, a, ev.pid, creates))
      if (refused === 'create' && this.phantoms.length < 1000) this.phantoms.push(path)
    }
    if ((ev.syscall === 'connect' || ev.syscall === 'bind' || ev.syscall === 'sendto') && ev.data) {
      const ep = parseSockaddr(ev.data)
      if (!ep || ep.family === 'unix') return
      const where = `${ep.address}:${ep.port}`
      const net = this.policy.network
      if (ev.syscall !== 'bind' && (net === 'none' || (net === 'loopback' && !isLoopback(ep.address))))
        this.add({
          layer: 'network',
          what: `${ev.syscall} ${where}`,
          outcome: `unreachable (network: ${net})`,
          suggestion: isLoopback(ep.address) ? 'network: loopback' : 'network: host',
          pid: ev.pid,
        })
      const tcp = this.policy.tcp
      const list = ev.syscall === 'bind' ? tcp?.bind : ev.syscall === 'connect' ? tcp?.connect : undefined
      // Landlock's port rules judge TCP sockets alone. Any other (UDP, MPTCP) the tcp: section's
      // seccomp layer refused when it was made, a finding already: its bind or connect could
      // not happen enforced, and a tcp port would not allow it (a UDP bind suggested one).
      const tcpSocket =
        ev.sockType === undefined || (ev.sockType === SOCK_STREAM && ev.sockProto === IPPROTO_TCP)
      if (list && tcpSocket && ep.port !== undefined && !list.includes(ep.port))
        this.add({
          layer: 'landlock',
          what: `${ev.syscall} ${where}`,
          outcome: 'errno(EACCES) (port not in tcp rules)',
          suggestion: `tcp.${ev.syscall}: [${[...list, ep.port].join(', ')}]`,
          pid: ev.pid,
        })
    }
  }

  /** Whether the policy refuses this access (recorded as a violation). */
  private judgeFile(named: string, access: FileAccess, pid: number, creates = false): boolean {
    const view = this.policy.namespaces.mount ? this.policy.filesystem : undefined
    // Inside the sandbox's own proc and dev the view is not the host's: the kernel decides.
    if (view?.some((e) => (e.kind === 'proc' || e.kind === 'dev') && under(named, e.dest))) return false
    // Judged where the kernel ends up: symlinks followed (each must be in the view too), those
    // that depend on who follows them (/proc/self, /dev/fd → /proc/self/fd) as the caller does.
    const parent = resolveOnHost(parentOf(named), false, pid)
    const resolved = access === 'create' || access === 'delete' ? parent : resolveOnHost(named, false, pid)
    // Through a magic link (/proc/PID/fd/N, cwd…) the kernel reaches an object the process
    // holds, which it got past the policy already: nothing to judge by path.
    if (resolved.magic) return false
    const { real, links } = resolved
    const path =
      access === 'create' || access === 'delete' ? `${real === '/' ? '' : real}/${baseOf(named)}` : real
    const target = access === 'create' || access === 'delete' ? real : path
    // A link that leads into the sandbox's own proc or dev (/etc/mtab → /proc/self/mounts).
    if (view?.some((e) => (e.kind === 'proc' || e.kind === 'dev') && under(target, e.dest))) return false
    // A probe fails either way; a file the same call creates is judged as it will be.
    if (kindOf(target) === 'missing' && access !== 'create' && !creates) return false
    // Creating what the enforced view already holds is EEXIST there (`mkdir -p` tries every
    // directory on the way), or a plain write: the policy denies nothing.
    if (view && access === 'create' && existsInView(view, path)) return false
    // Under a read-only bind, outside the working directory (the one place the audited run
    // could write there), a path that exists now existed before: EEXIST when enforced.
    if (view && access === 'create' && kindOf(path) !== 'missing' && !under(path, callerCwd())) {
      const entry = view.findLast((e) => e.kind !== 'symlink' && e.kind !== 'mkdir' && under(path, e.dest))
      if (entry?.kind === 'bind' && entry.readOnly) return false
    }
    if (view) {
      let hidden = false
      for (const [link, to] of links) {
        const shown = view.some(
          (e) => (e.kind === 'symlink' && e.dest === link) || (e.kind === 'bind' && under(link, e.dest)),
        )
        if (!shown)
          hidden = this.add({
            layer: 'filesystem',
            what: `${access} ${named}`,
            outcome: `symlink ${link} is not in the view (ENOENT)`,
            suggestion: `filesystem: - symlink: { target: ${q(to)}, dest: ${q(link)} }`,
            pid,
          })
      }
      if (hidden) return true
      const entry = view.findLast(
        (e) => e.kind !== 'symlink' && e.kind !== 'file' && e.kind !== 'mkdir' && under(target, e.dest),
      )
      // Directories on the way to an entry exist in the view (empty but for what it holds).
      if (
        !entry &&
        (access === 'lookup' || access === 'list') &&
        view.some((e) => 'dest' in e && under(e.dest, target))
      )
        return false
      if (!entry || entry.kind === 'mask') {
        const fix = NEED[access] === 'rx' ? 'ro' : NEED[access]
        return this.add({
          layer: 'filesystem',
          what: `${access} ${path}`,
          outcome: entry ? 'hidden (masked)' : 'not in the view (ENOENT)',
          suggestion: `filesystem: - ${fix}: ${q(access === 'create' || access === 'delete' ? target : path)}`,
          pid,
        })
      }
      if (entry.kind === 'bind' && entry.readOnly && NEED[access] === 'rw') {
        return this.add({
          layer: 'filesystem',
          what: `${access} ${path}`,
          outcome: `read-only bind of ${entry.dest} (EROFS)`,
          suggestion: `filesystem: - rw: ${q(target)}`,
          pid,
        })
      }
    }
    const need = RIGHT[access]
    if (!need) return false
    const granted = this.rules.filter((r) => under(target, r.path)).reduce((m, r) => m | r.access, 0n)
    if ((granted & need) !== 0n) return false
    return this.add({
      layer: 'landlock',
      what: `${access} ${path}`,
      outcome: 'errno(EACCES) (no Landlock rule grants it)',
      suggestion: `landlock.paths: - { path: ${q(target)}, access: ${NEED[access] === 'rx' ? 'rx' : NEED[access]} }`,
      pid,
    })
  }
}

/** Whether path exists when the policy is enforced, whatever the program did: an entry's mount
 * point or a directory on the way to one. (Host files under a bind cannot tell: the audited
 * run may have just created them.) */
function existsInView(view: ResolvedPolicy['filesystem'], path: string): boolean {
  return view.some((e) => 'dest' in e && under(e.dest, path))
}

/** Whether the file at path was created before `t` (its birth time; false where the file
 * system does not keep one). */
function bornBefore(path: string, t: number): boolean {
  try {
    const born = statSync(fsPath(path)).birthtimeMs
    return born > 0 && born < t
  } catch {
    return false
  }
}

const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/'
const baseOf = (p: string) => p.slice(p.lastIndexOf('/') + 1)
