// linux.seccomp: checked here, compiled by seccomp-compile.ts, which loads only when the state
// root's cache (seccomp-cache.ts) holds no filter for exactly this input: an engine's every
// container has the same profile, and a hit skips the compiler's load and run.
import { CordonError } from '../errors.js'
import type { PlanOp } from '../plan/model.js'
import { BUILD, type CachedFilter, filterInput, lookupFilter, storeFilter } from './seccomp-cache.js'
import { type OciConfig, type OciSeccomp, refuseUnknown, unsupported } from './spec.js'

/** SECCOMP_FILTER_FLAG_* by their OCI names. */
const FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
}

/** Refuses what cordon-oci does not support, naming the field; the filter's flags. */
function checkSeccomp(s: OciSeccomp): number {
  refuseUnknown(
    s,
    ['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'syscalls'],
    'linux.seccomp',
    'not supported by cordon-oci',
  )
  let flags = 0
  for (const f of s.flags ?? []) {
    const bit = FLAGS[f]
    if (bit === undefined)
      throw unsupported(`linux.seccomp.flags "${f}"`, `cordon-oci knows ${Object.keys(FLAGS).join(', ')}`)
    flags |= bit
  }
  const actions = [s.defaultAction, ...(s.syscalls ?? []).map((r) => r.action)]
  if (actions.includes('SCMP_ACT_NOTIFY'))
    throw unsupported(
      'linux.seccomp SCMP_ACT_NOTIFY',
      'needs listenerPath, which cordon-oci does not support',
    )
  return flags
}

/** The config's compiled filter: from the state root's cache (`root`; none: no cache) when it
 * holds one for exactly this input, else compiled and stored there. undefined without
 * linux.seccomp. Call it before translateConfig, which takes the result. */
export async function seccompFilter(config: OciConfig, root?: string): Promise<CachedFilter | undefined> {
  const s = config.linux?.seccomp
  if (!s) return undefined
  checkSeccomp(s)
  const caps = config.process?.capabilities?.bounding ?? []
  let input: Buffer | undefined
  try {
    input = root !== undefined && BUILD !== undefined ? filterInput(BUILD, s, caps) : undefined
  } catch {} // a value JSON cannot hold (a bigint): no cache
  const hit = input && lookupFilter(root!, input)
  if (hit) return hit
  const filter = (await import('./seccomp-compile.js')).compileOciFilter(s, caps)
  if (input) storeFilter(root!, input, filter)
  return filter
}

/** The plan's seccomp op from seccompFilter's result for the same config. */
export function seccompOps(config: OciConfig, notes: string[], filter: CachedFilter | undefined): PlanOp[] {
  const s = config.linux?.seccomp
  if (!s) return []
  const flags = checkSeccomp(s)
  if (!filter) throw new CordonError('internal', 'linux.seccomp was not compiled before the plan')
  notes.push(filter.note)
  return [{ op: 'seccomp', flags, program: filter.program }]
}
