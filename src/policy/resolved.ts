// What resolvePolicy returns (resolve.ts): the policy with profiles merged, paths absolute and
// defaults applied. Its own module, so that the helpers resolution uses (bind-sources.ts,
// wide-binds.ts) can name it without importing the resolver that imports them.
import type { Acknowledgement, NamespaceName, Policy } from './schema.js'

export type Network = 'none' | 'loopback' | 'host'

/** A filesystem entry with absolute paths and defaults applied. named: the path the policy
 * named, when that passes through a symlink and dest is where it leads (policy/view-dests.ts;
 * a mask's, policy/bind-sources.ts). */
export type ViewEntry = (
  | {
      kind: 'bind'
      src: string
      dest: string
      readOnly: boolean
      optional: boolean
      access?: string[]
      /** false: never idmapped, even writable for a remapped root caller (learn's host `/`). */
      idmap?: false
    }
  | { kind: 'tmpfs'; dest: string; size: number; mode: number; access?: string[]; exec?: false }
  | { kind: 'proc' | 'dev'; dest: string }
  /** host: the host path it hides when that is not dest (a bind shows it at another place, or
   * the mask is repeated where another bind shows the same host path). */
  | { kind: 'mask'; dest: string; host?: string }
  | { kind: 'symlink'; target: string; dest: string }
  | { kind: 'file'; dest: string; content: string; mode: number }
  | { kind: 'mkdir'; dest: string; mode: number }
) & { named?: string }

export interface ResolvedPolicy {
  namespaces: Record<NamespaceName, boolean>
  user: { uid?: number; gid?: number; hostRoot?: boolean }
  hostname?: string
  network: Network
  filesystem: ViewEntry[]
  env: { pass: string[]; set: Record<string, string> }
  cwd?: string
  capabilities: number[]
  command?: string[]
  /** cgroup limits (bytes; counts; CPUs; weight 1-10000; a cpuset list) and the timeout in ms. */
  limits: {
    memory?: number
    /** The share of the host's memory `memory` was given as ("25%"), for exports that can say
     * it as a share on any host (systemd MemoryMax=25%) rather than this host's bytes. */
    memoryPercent?: number
    swap?: number
    pids?: number
    cpus?: number
    cpuWeight?: number
    cpuset?: string
    /** Relative block I/O weight, 1-10000 (100 is the default): v2 io.weight, v1 BFQ/CFQ blkio weight. */
    ioWeight?: number
    timeoutMs?: number
  }
  /** Refuse to run when a limit cannot be enforced (else best effort, reported). */
  requireLimits: boolean
  /** setrlimit(2) values by resource name (soft = hard). */
  rlimits: Record<string, number>
  /** TCP ports allowed when the policy restricts them (Landlock ABI 4+, plus seccomp). */
  tcp?: { bind: number[]; connect: number[] }
  landlock: {
    /** Minimum ABI, 0 for best effort. */
    require: number
    scopes: ('abstract-unix-socket' | 'signal')[]
    paths: { path: string; access: string[]; optional: boolean }[]
  }
  /** Gaps the policy accepts (`acknowledge:`, every layer's): see landlock/status.ts. */
  acknowledge?: Acknowledgement[]
  /** Each layer's `seccomp:` section, parents first (merged by src/seccomp/resolve.ts). */
  seccomp: (NonNullable<Policy['seccomp']> & { origin: string })[]
  /** Where each layer came from, parents first: profile names and files. */
  sources: string[]
  /** What a run must say loudly before it starts (a wide bind's exposure, policy/wide-binds.ts). */
  warnings?: string[]
  /** Resolution's part of `warnings` (a working directory a profile would not show), kept when
   * the host view is settled again. */
  resolveWarnings?: string[]
}

/** The entries a view keeps: the last at each destination, a later one replacing an earlier
 * (`--ro /etc/shadow` over the default profile's mask, `--rw .` over its `ro: .`). Resolution
 * keeps only these, so that nothing after it (wide binds, Landlock, statuses, learn, backends,
 * exports, reports) acts on an entry the sandbox does not have; the plan's view, its Landlock
 * rules and the statuses take them again after the host view is settled (a mask settled
 * through a symlink may land on another entry's place). */
export function lastAtEachPlace<E extends { dest: string }>(entries: readonly E[]): E[] {
  const last = new Map<string, E>()
  for (const e of entries) last.set(e.dest, e)
  return entries.filter((e) => last.get(e.dest) === e)
}
