// Plans in words, for `cordon plan` and error context.
import { describeAccess } from '../landlock/rights.js'
import { capabilityName } from '../policy/capabilities.js'
import { CLONE_FLAGS, MS_PROPAGATION, type Plan, type PlanOp } from './model.js'

const octal = (n: number) => `0${n.toString(8)}`

function flagWords(f: {
  readOnly?: boolean
  optional?: boolean
  dev?: boolean
  noexec?: boolean
  idmap?: boolean
}): string {
  return [
    f.readOnly ? 'ro' : 'rw',
    f.dev ? 'dev' : '',
    f.noexec ? 'noexec' : '',
    f.idmap ? 'idmap' : '',
    f.optional ? 'optional' : '',
  ]
    .filter(Boolean)
    .join(',')
}

export function describeOp(op: PlanOp): string {
  switch (op.op) {
    case 'namespaces':
      return Object.entries(CLONE_FLAGS)
        .filter(([, bit]) => op.flags & bit)
        .map(([name]) => name)
        .join(' ')
    case 'uid_map':
    case 'gid_map':
      return `${op.inside} inside = ${op.outside === 'caller' ? 'caller' : op.outside} outside (${op.count})`
    case 'keep_fd':
      return String(op.fd)
    case 'env_set':
      return `${op.name}=${op.value}`
    case 'env_pass':
      return op.name
    case 'exec_arg':
      return JSON.stringify(op.arg)
    case 'cgroup':
    case 'chdir':
    case 'enter_root':
      return op.path
    case 'cgroup_devices':
      return `${op.path}, ${op.program.length / 8} eBPF instructions`
    case 'setns':
      return `${Object.entries(CLONE_FLAGS).find(([, bit]) => bit === op.type)?.[0] ?? op.type} ${op.path}`
    case 'fsmount':
      return `${op.fstype} on ${op.dest}${op.options.length ? ` (${op.options.join(',')})` : ''}`
    case 'mknod':
      return `${op.dest} ${(op.mode & 0o170000) === 0o10000 ? 'fifo' : `${op.major}:${op.minor}`} mode ${octal(op.mode & 0o777)} owner ${op.uid}:${op.gid}`
    case 'hook':
    case 'start_hook':
      return `${op.path}${op.timeout ? ` timeout ${op.timeout}s` : ''}`
    case 'hook_arg':
    case 'start_hook_arg':
      return JSON.stringify(op.arg)
    case 'hook_env':
    case 'start_hook_env':
      return op.env.slice(0, op.env.indexOf('=') + 1) + '…'
    case 'propagation':
      return `${op.dest} ${Object.entries(MS_PROPAGATION)
        .filter(([n, bit]) => n !== 'rec' && op.flags & bit)
        .map(([n]) => (op.flags & MS_PROPAGATION.rec ? `r${n}` : n))
        .join(' ')}`
    case 'root':
      return `tmpfs mode ${octal(op.mode)}`
    case 'bind':
      return `${op.src} -> ${op.dest} (${flagWords(op.flags)})`
    case 'tmpfs':
      return `${op.dest} mode ${octal(op.mode)}${op.size ? ` size ${op.size}` : ''}${op.flags.readOnly ? ' ro' : ''}${op.flags.noexec ? ' noexec' : ''}`
    case 'proc':
    case 'devpts':
    case 'remount_ro':
      return op.dest
    case 'mkdir':
      return `${op.dest} mode ${octal(op.mode)}`
    case 'symlink':
      return `${op.dest} -> ${op.target}`
    case 'file':
      return `${op.dest} mode ${octal(op.mode)} (${Buffer.byteLength(op.content)} bytes)`
    case 'hostname':
      return op.name
    case 'rlimit':
      return `resource ${op.resource} soft ${op.soft} hard ${op.hard}`
    case 'ids':
      return `uid ${op.uid} gid ${op.gid}${op.setgroups ? ' groups {gid}' : ''}`
    case 'caps': {
      const kept: string[] = []
      for (let i = 0; i < 64; i++) if (op.keep & (1n << BigInt(i))) kept.push(capabilityName(i))
      return kept.length ? `keep ${kept.join(', ')}` : 'drop all'
    }
    case 'seccomp':
      return `${op.program.length / 8} BPF instructions${op.flags & 8 ? ', notifications to the launcher' : ''}`
    case 'seccomp_notify':
      return `responder, ${op.program.length / 8} BPF instructions`
    case 'seccomp_trace':
    case 'leave_mount_ns':
      return 'traced calls answered by the launcher as their tracer (ptrace)'
    case 'landlock':
      return `best ABI up to ${op.rows.length}${op.required ? `, requires ABI ${op.required}` : ' (best effort)'}`
    case 'landlock_path':
      return `${op.path} ${describeAccess(op.access)}${op.optional ? ' (optional)' : ''}`
    case 'landlock_port':
      return `tcp ${op.port} ${[op.access & 1n ? 'bind' : '', op.access & 2n ? 'connect' : ''].filter(Boolean).join('+')}`
    default:
      return ''
  }
}

export function describePlan(plan: Plan): string {
  const width = Math.max(...plan.ops.map((o) => o.op.length))
  const lines = plan.ops.map((op) => `  ${op.op.padEnd(width)}  ${describeOp(op)}`.trimEnd())
  return [...lines, '', 'notes:', ...plan.notes.map((n) => `  ${n}`)].join('\n')
}

/** JSON form: bigints as strings, BPF as base64. */
export function planToJson(plan: Plan): unknown {
  return {
    version: 1,
    ops: plan.ops.map(
      (op) =>
        JSON.parse(
          JSON.stringify(op, (_k, v: unknown) =>
            typeof v === 'bigint'
              ? v.toString()
              : v instanceof Uint8Array
                ? Buffer.from(v).toString('base64')
                : v,
          ),
        ) as unknown,
    ),
    notes: plan.notes,
  }
}
