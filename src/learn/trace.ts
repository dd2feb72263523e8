// The filters of a traced run. Learn mode stops every syscall the base policy does not kill and
// records it; audit mode lets everything through, stopping only on what the policy would refuse
// and on the calls that name files and sockets, so they can be compared with the policy.
//
// The calls that go on stop with SECCOMP_RET_TRACE, for the launcher as the sandbox's tracer
// (native/trace.h): a ptrace stop is never interrupted by a signal, where a user notification
// fails the call with EINTR when a signal arrives before the launcher has taken it. Calls the
// filter refuses stay notified: the launcher answers them with their errno.
import { type Action, ENOSYS, EPERM, type SeccompRule, type SeccompSpec } from '../seccomp/model.js'
import { CAPTURE, NEVER_NOTIFIED, observeSyscalls, responderSpec, watchSyscalls } from '../seccomp/notify.js'

export type TraceMode = 'learn' | 'audit'

export interface TraceFilters {
  filter: SeccompSpec
  responder: SeccompSpec
  /** The filter has RET_TRACE outcomes: the launcher must trace the sandbox (plan seccomp_trace). */
  ptrace: boolean
}

function mapActions(spec: SeccompSpec, f: (a: Action) => Action): SeccompSpec {
  return {
    defaultAction: f(spec.defaultAction),
    rules: spec.rules.map((r) => ({ ...r, action: f(r.action) })),
    unknownAction: f(spec.unknownAction),
  }
}

/** Learning keeps the base's outcomes (so the run behaves as it will under the learned policy):
 * what it allows continues and is recorded, what it refuses is refused and recorded. A policy's
 * own `trace` rule is what it is enforced: `cordon run` attaches no tracer, so the kernel fails
 * the call with ENOSYS. Left as RET_TRACE it would stop for learn's tracer, which lets every
 * stop go on: the learning run would succeed where the enforced one fails. */
const learned = (a: Action): Action => {
  if (a.kind === 'allow' || a.kind === 'log' || a.kind === 'notify') return { kind: 'notify' }
  if (a.kind === 'errno' || a.kind === 'deny-log') return { kind: 'deny-log', errno: a.errno }
  if (a.kind === 'trace') return { kind: 'deny-log', errno: ENOSYS }
  return a
}

/** Auditing never refuses: what the policy would refuse continues, and is recorded (a `trace`
 * rule's call too: the auditor judges it ENOSYS, as enforced without a tracer). */
const audited = (a: Action): Action => (a.kind === 'allow' || a.kind === 'log' ? a : { kind: 'notify' })

/**
 * Every call that names a file or socket gets a rule of its own, so the responder can say what
 * to capture. They go first: later rules win, so the spec's own rules still decide, and one
 * matching nothing else gets the default, exactly as before.
 */
function withCaptureRules(spec: SeccompSpec): SeccompSpec {
  const rules = Object.keys(CAPTURE).map((name) => ({
    syscalls: [name],
    args: [],
    action: spec.defaultAction,
    origin: 'capture',
  }))
  return { ...spec, rules: [...rules, ...spec.rules] }
}

/** clone's CLONE_UNTRACED: the kernel then attaches no tracer to the child, whatever the
 * tracer's TRACECLONE/TRACEFORK options say. */
export const CLONE_UNTRACED = 0x00800000n

/**
 * A traced run cannot let a process leave the tracer: an untraced child's RET_TRACE calls fail
 * ENOSYS (the kernel's answer when no tracer listens) and go unrecorded, so learn and audit
 * would miss what it attempts. clone with CLONE_UNTRACED is refused (and reported); clone3,
 * whose flags the filter cannot read, answers ENOSYS, so libc falls back to clone. Appended:
 * the last matching rule wins.
 */
function untracedRules(): SeccompRule[] {
  return [
    { syscalls: ['clone3'], args: [], action: { kind: 'errno', errno: ENOSYS }, origin: 'trace: clone3' },
    {
      syscalls: ['clone'],
      args: [{ index: 0, op: 'masked-eq', value: CLONE_UNTRACED, mask: CLONE_UNTRACED, width: 64 }],
      action: { kind: 'deny-log', errno: EPERM },
      origin: 'trace: CLONE_UNTRACED',
    },
  ]
}

/**
 * Whether a refused call was refused by untracedRules (the tracer's own rules, which win over
 * the base's), not by the policy: clone3 always is, clone when it asks for CLONE_UNTRACED.
 * Enforced, no tracer runs and the base profile decides these calls.
 */
export function refusedByTracer(syscall: string, args: readonly bigint[]): boolean {
  if (syscall === 'clone3') return true
  return syscall === 'clone' && ((args[0] ?? 0n) & CLONE_UNTRACED) !== 0n
}

/** The RET_TRACE data of cordon's own stops (native/trace.h CORDON_TRACE_DATA): a stop with
 * other data is the program's own filter's, which unobserved no tracer takes (ENOSYS). */
export const TRACER_DATA = 0xc0d

export function traceFilters(spec: SeccompSpec, mode: TraceMode): TraceFilters {
  // Calls that must never be stopped keep their own outcome when they go on (NEVER_NOTIFIED);
  // learning infers them instead (generate.ts IMPLIED).
  const learning = mapActions(spec, learned)
  const observed =
    mode === 'learn'
      ? { ...learning, rules: observeSyscalls(spec, learning.rules, NEVER_NOTIFIED, learned, 'learn') }
      : watchSyscalls(mapActions(spec, audited), Object.keys(CAPTURE))
  const filter = { ...observed, rules: [...observed.rules, ...untracedRules()] }
  // Outcome checks only when learning, where every syscall stops, so a call's outcome is read
  // at its thread's very next one; audit judges what was attempted. The responder is made from
  // the notifying filter: it answers the same calls whichever way they stop.
  const responder = responderSpec(withCaptureRules(filter), true, mode === 'learn')
  const traced = mapActions(filter, (a) => (a.kind === 'notify' ? { kind: 'trace', data: TRACER_DATA } : a))
  return { filter: traced, responder, ptrace: true }
}
