// The attack-surface figure: how much of an architecture's syscall table a filter blocks. A
// syscall counts as blocked when no argument values get it through (allowed, logged, traced or
// notified); one allowed for some values only counts as reachable.
import { leafFor } from '../seccomp/compile.js'
import { passesThrough, type SeccompSpec } from '../seccomp/model.js'
import { syscallTable } from '../seccomp/tables.js'

export interface Surface {
  arch: string
  total: number
  blocked: number
  /** blocked / total */
  fraction: number
  /** Names that some call can get through, sorted. */
  reachable: string[]
}

export function attackSurface(spec: SeccompSpec, arch: string): Surface {
  const names = Object.keys(syscallTable(arch))
  const reachable = names.filter((name) => {
    const leaf = leafFor(spec, name)
    return passesThrough(leaf.fallback) || leaf.checks.some((c) => passesThrough(c.action))
  })
  const blocked = names.length - reachable.length
  return { arch, total: names.length, blocked, fraction: blocked / names.length, reachable: reachable.sort() }
}

export const describeSurface = (s: Surface) =>
  `${(s.fraction * 100).toFixed(1)}% of the ${s.arch} syscall table blocked (${s.blocked} of ${s.total}; ${s.reachable.length} reachable)`
