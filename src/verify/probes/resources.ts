// Battery rows: the entry points a filter must cover (i386, x32), and the resource limits.
import { pidsAsNproc } from '../../policy/effective.js'
import type { ProbeSpec } from '../probe-spec.js'

// The resource probes check the policy's limit setting under a small one of verify's own when
// the policy's is larger (the same cgroup file, or RLIMIT_NPROC, at any size), sparing the host
// gigabytes of memory and thousands of forks (their `sandboxPolicy`).

/** The memory probe's limit when the policy's is larger: the same cgroup setting at any size,
 * without filling gigabytes of the host's memory first. */
export const MEMORY_PROBE_LIMIT = 64 * 2 ** 20

/** The fork bomb's pids limit when the policy's is larger: pids.max (or RLIMIT_NPROC) is the
 * same setting at any size, and a bomb of thousands of processes costs the host tens of seconds
 * of forks and reaping before it proves anything more. */
export const PIDS_PROBE_LIMIT = 64

/** The fork bomb's pids limit, under the policy's. (gVisor's bundle gives runsc its own room on
 * top, outside the program's limit: backends/gvisor.ts splitPidsLimit.) */
const bombLimit = (pids: number) => Math.min(pids, PIDS_PROBE_LIMIT)

export const RESOURCE_PROBES: readonly ProbeSpec[] = [
  {
    name: 'i386-entry',
    targets: ({ ctx, add, unsupported }) => {
      // Without IA-32 emulation int 0x80 faults before any filter is reached: there is no
      // entry to attack, and nothing about the policy to learn from the fault.
      if (ctx.i386Entry === false)
        unsupported(
          'not applicable on this host: int 0x80 faults outside any sandbox (no IA-32 emulation; see cordon check)',
        )
      else add(undefined)
    },
    attack: 'call a filtered syscall (keyctl) through the i386 entry point',
    arch: 'i386',
    layers: {
      ENOSYS: 'kernel (no IA-32 emulation)',
      'signal 11': 'kernel (int 0x80 faults: no IA-32 emulation)',
      EPERM: 'kernel',
    },
  },
  {
    name: 'x32-entry',
    attack: 'call a syscall through the x32 ABI',
    layers: { ENOSYS: 'kernel (no x32)', 'signal 31': 'seccomp (x32 killed)' },
  },
  {
    name: 'fork-bomb',
    calls: [['clone']],
    // Past the (probe's) limit when one holds; a bounded 256 processes when none does.
    targets: ({ policy, add }) =>
      add(String(policy.limits.pids !== undefined ? bombLimit(policy.limits.pids) + 50 : 256)),
    alone: 'resource',
    sandboxPolicy: (p) =>
      p.limits.pids !== undefined ? { ...p, limits: { ...p.limits, pids: bombLimit(p.limits.pids) } } : p,
    // A bomb under a tight memory limit can fill it before the pids limit: the OOM killer then
    // ends the sandbox, and the bomb was contained all the same, by the cgroup.
    ended: ({ ending, ctx }) =>
      ending.reason === 'oom' && ctx.cgroup.ok
        ? { outcome: 'blocked', by: 'cgroup (memory limit: the OOM killer ended the bomb)' }
        : undefined,
    // Without a cgroup the pids limit is RLIMIT_NPROC in the user namespace; in gVisor it is
    // RLIMIT_NPROC in gVisor's kernel.
    by: (by, { spec, ctx }) =>
      by !== spec.layers.EAGAIN
        ? by
        : ctx.backend === 'gvisor'
          ? spec.layers['EAGAIN gVisor']!
          : !ctx.cgroup.ok
            ? spec.layers['EAGAIN rlimit']!
            : by,
    detail: ({ policy, raw, why }) =>
      !why && policy.limits.pids !== undefined && policy.limits.pids > PIDS_PROBE_LIMIT
        ? `${raw.detail ? `${raw.detail}; ` : ''}checked under a ${PIDS_PROBE_LIMIT}-process limit (the same setting as the policy's ${policy.limits.pids})`
        : raw.detail,
    attack: 'fork until the host runs out of processes',
    notExpected: (p, ctx) =>
      p.limits.pids === undefined
        ? 'the policy sets no pids limit (limits.pids)'
        : !ctx.cgroup.ok && !pidsAsNproc(p, ctx.uid)
          ? `the pids limit is not enforced here: ${ctx.cgroup.why}`
          : undefined,
    layers: {
      EAGAIN: 'cgroup (pids limit)',
      'EAGAIN rlimit': 'rlimit (RLIMIT_NPROC in the user namespace)',
      'EAGAIN gVisor': "rlimit (RLIMIT_NPROC in gVisor's kernel)",
      'sandbox died': "cgroup (pids limit: gVisor's kernel was refused a host thread and the sandbox ended)",
    },
  },
  {
    name: 'memory',
    // Past the limit when one holds; a bounded 256 MiB (proof, not harm) when none does.
    targets: ({ policy, ctx, spec, add }) =>
      add(
        String(
          policy.limits.memory !== undefined && !spec.notExpected?.(policy, ctx, spec.name)
            ? Math.ceil(Math.min(policy.limits.memory, MEMORY_PROBE_LIMIT) / 2 ** 20) + 128
            : 256,
        ),
      ),
    alone: 'resource',
    sandboxPolicy: (p) =>
      p.limits.memory !== undefined
        ? { ...p, limits: { ...p.limits, memory: Math.min(p.limits.memory, MEMORY_PROBE_LIMIT) } }
        : p,
    detail: ({ policy, raw, why }) =>
      !why && policy.limits.memory !== undefined && policy.limits.memory > MEMORY_PROBE_LIMIT
        ? `checked under a ${MEMORY_PROBE_LIMIT / 2 ** 20} MiB limit (the same cgroup setting as the policy's)`
        : raw.detail,
    attack: 'allocate until the host runs out of memory',
    notExpected: (p, ctx) =>
      p.limits.memory === undefined
        ? 'the policy sets no memory limit (limits.memory)'
        : !ctx.cgroup.ok
          ? `the memory limit is not enforced here: ${ctx.cgroup.why}`
          : undefined,
    layers: {
      'signal 9': 'cgroup (memory limit: OOM kill)',
      ENOMEM: 'cgroup (memory limit)',
      'sandbox died': 'cgroup (memory limit: the OOM kill ended the whole gVisor sandbox)',
    },
  },
]
