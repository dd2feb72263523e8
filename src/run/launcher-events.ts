// The events protocol, field by field: which JSON lines the launcher writes on its events fd
// (native/events.c, one `ev_*` function per event) and which keys each may carry. This is the
// one definition of that contract. `satisfies` holds it to SandboxEvent (events.ts), and
// test/architecture/contracts.test.ts holds events.c's source to it, so a field added, renamed or
// dropped on either side fails the build or that test. A new launcher event is a row here, a
// member of SandboxEvent, and its ev_* function in events.c.
import type { EventOf, SandboxEventName, SyscallEffect } from './events.js'

export const LAUNCHER_EVENTS = {
  started: ['pid', 'commandPid', 'cgroupJoin'],
  exit: ['code', 'signal'],
  process: ['action', 'pid', 'ppid', 'exe', 'code', 'signal', 'source'],
  spawn: ['count', 'pids', 'source'],
  error: ['step', 'path', 'dest', 'errno', 'code', 'message'],
  warning: ['step', 'message'],
  landlock: ['abi', 'errno', 'code'],
  // path, port or object: the kind of the denied object (audit.c passes it to ev_denied).
  denied: ['layer', 'blockers', 'path', 'port', 'object', 'pid', 'exe'],
  // The launcher writes arch and nr as numbers; parseEvent adds the name (`syscall`).
  syscall: [
    'arch',
    'nr',
    'pid',
    'args',
    'errno',
    'path',
    'path2',
    'ctimeMs',
    'exe',
    'data',
    'sockType',
    'sockProto',
    'unreadable',
    'record',
    'effect',
  ],
  'syscall-counts': ['counts', 'handled', 'dropped'],
} as const satisfies { readonly [N in SandboxEventName]?: readonly Exclude<keyof EventOf<N>, 'event'>[] }

/** Keys of a syscall event's `effect` object (native/events.c put_effect). */
export const EFFECT_FIELDS = [
  'settled',
  'was',
  'now',
  'was2',
  'now2',
  'opened',
  'execed',
  'boundBefore',
  'bound',
  'peer',
] as const satisfies readonly (keyof SyscallEffect)[]

/** Events Node adds itself, from the cgroup sampler (run/spawn.ts): never on the launcher's fd. */
export const NODE_EVENTS = ['stats', 'oom', 'pids-limit'] as const satisfies readonly SandboxEventName[]
