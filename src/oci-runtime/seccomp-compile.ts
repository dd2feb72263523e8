// linux.seccomp → a filter compiled by cordon's compiler (arch check first, x32 and foreign
// arches killed, i386 entry points covered) from the spec's profile, imported as an OCI profile.
// Loaded (seccomp.ts seccompFilter) only when the state root's cache has no entry for it.
import { entryPoints } from '../seccomp/arch.js'
import { compileSeccomp } from '../seccomp/compile.js'
import { importOci } from '../seccomp/oci.js'
import { resolveSeccomp } from '../seccomp/resolve.js'
import type { CachedFilter } from './seccomp-cache.js'
import type { OciSeccomp } from './spec.js'

/** The program and its plan note, for a process with these bounding capabilities. */
export function compileOciFilter(s: OciSeccomp, caps: readonly string[]): CachedFilter {
  const { layer, skipped } = importOci(s, { caps: [...caps], origin: 'config.json linux.seccomp' })
  const filter = compileSeccomp(resolveSeccomp([layer]), entryPoints(process.arch))
  return {
    program: filter.program,
    note:
      `seccomp: ${filter.instructions} instructions; foreign arches and x32 killed whatever linux.seccomp.architectures lists` +
      (skipped.names.length ? `; names this kernel's tables lack: ${skipped.names.join(' ')}` : ''),
  }
}
