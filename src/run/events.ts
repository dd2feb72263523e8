// Events the launcher reports on its events fd, one JSON object per line: their types
// (event-types.ts) and the parse that names syscalls from cordon's tables.
import { ARCHES, type ArchInfo, syscallName } from '../seccomp/arch.js'
import { parseEventLine } from './event-parse.js'
import type { SandboxEvent } from './event-types.js'

export type * from './event-types.js'

/** The launcher's numbers named from cordon's syscall tables (seccomp/arch.ts). */
export function syscallNames(audit: number, nr: number): { arch: string; syscall: string } {
  const arch = archByAudit.get(audit)
  return {
    arch: arch?.name ?? `0x${audit.toString(16)}`,
    syscall: (arch && syscallName(arch, nr)) ?? `#${nr}`,
  }
}
const archByAudit = new Map<number, ArchInfo>(Object.values(ARCHES).map((a) => [a.audit, a]))

export { eventJson } from './event-parse.js'

/** Parses one line, syscalls named; anything unexpected becomes a warning rather than an
 * exception. */
export const parseEvent = (line: string): SandboxEvent => parseEventLine(line, syscallNames)

export { describeStepError } from './launcher-steps.js'
