// The escape battery's catalogue: what each probe attacks, whether a policy should stop it,
// which layer did when it was stopped, and its hooks (probe-spec.ts). Attribution is by
// evidence: the seccomp outcome of the very call the probe made (reference evaluator, real
// arguments), then what the errno means for that attack (ESRCH from kill: the pid namespace hid
// the target; EROFS: a read-only mount; EACCES on a path: Landlock or a masked file). The rows
// live in probes/, one file per kind of attack; the order here is the order of the report and
// of native/attack.c's PROBES[].
import type { ProbeSpec } from './probe-spec.js'
import { FILESYSTEM_PROBES } from './probes/filesystem.js'
import { HOST_PROBES } from './probes/host.js'
import { KERNEL_PROBES } from './probes/kernel.js'
import { NETWORK_PROBES } from './probes/network.js'
import { PRIVILEGE_PROBES } from './probes/privileges.js'
import { RESOURCE_PROBES } from './probes/resources.js'

export type { ProbeContext, ProbeSpec } from './probe-spec.js'
export { MEMORY_PROBE_LIMIT, PIDS_PROBE_LIMIT } from './probes/resources.js'

export const PROBES: readonly ProbeSpec[] = [
  ...PRIVILEGE_PROBES,
  ...FILESYSTEM_PROBES,
  ...NETWORK_PROBES,
  ...KERNEL_PROBES,
  ...HOST_PROBES,
  ...RESOURCE_PROBES,
]
