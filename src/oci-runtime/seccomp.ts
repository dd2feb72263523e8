// linux.seccomp → a filter compiled by cordon's compiler (arch check first, x32 and foreign
// arches killed, i386 entry points covered) from the spec's profile, imported as an OCI profile.
import { entryPoints } from '../seccomp/arch.js'
import { compileSeccomp } from '../seccomp/compile.js'
import { importOci } from '../seccomp/oci.js'
import { resolveSeccomp } from '../seccomp/resolve.js'
import type { PlanOp } from '../plan/model.js'
import { type OciConfig, refuseUnknown, unsupported } from './spec.js'

/** SECCOMP_FILTER_FLAG_* by their OCI names. */
const FLAGS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
}

export function seccompOps(config: OciConfig, notes: string[]): PlanOp[] {
  const s = config.linux?.seccomp
  if (!s) return []
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
  const caps = config.process?.capabilities?.bounding ?? []
  const { layer, skipped } = importOci(s, {
    caps,
    origin: 'config.json linux.seccomp',
  })
  const spec = resolveSeccomp([layer])
  const filter = compileSeccomp(spec, entryPoints(process.arch))
  notes.push(
    `seccomp: ${filter.instructions} instructions; foreign arches and x32 killed whatever linux.seccomp.architectures lists` +
      (skipped.names.length ? `; names this kernel's tables lack: ${skipped.names.join(' ')}` : ''),
  )
  return [{ op: 'seccomp', flags, program: filter.program }]
}
