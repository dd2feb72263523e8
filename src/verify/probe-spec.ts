// What a row of the escape battery is (battery.ts assembles the rows from probes/*.ts): the
// attack, when the policy promises to stop it, the layer by errno, and two optional hooks that
// replace what was a switch on the probe's name in verify.ts: `targets` (which labels to run,
// aimed at which host fixture, or why not on this host) and `verdict` (what reached the host,
// which decides over what the probe saw).
import type { ResolvedPolicy } from '../policy/resolve.js'
import type { Fixtures, ProbePaths } from './fixtures.js'
import type { Need } from './refusal.js'

/** blocked/escaped: what the attack did; error: no result; skipped: not run (the reason says
 * why, and `unsupported` marks a host that lacks what the attack needs). */
export type Outcome = 'blocked' | 'escaped' | 'error' | 'skipped'

/** A probe's line on cordon-probes' stdout. */
export interface RawResult {
  probe: string
  outcome: 'blocked' | 'escaped' | 'error'
  call?: string
  errno?: number
  signal?: number
  detail?: string
  /** The probe's own machinery failed (outcome error): the attack was not tried. */
  untried?: boolean
}

export interface ProbeContext {
  tcpPort: number
  home: string
  /** Who runs the sandbox, and whether the host gives that caller a cgroup. */
  uid: number
  cgroup: { ok: boolean; why: string }
  /** Where the battery runs: runc and gVisor map a root caller's container to host root. */
  backend: 'native' | 'runc' | 'gvisor'
  /** Whether int 0x80 works outside any sandbox here (host/probe.ts); null off x86_64. */
  i386Entry?: boolean | null
}

/** What a `targets` hook is given, and how it answers: one `add` per label to run (an
 * argument, and the host target it aims at), `skip` when this caller cannot run it, or
 * `unsupported` when this host lacks what it attacks (no claim either way). */
export interface TargetContext {
  policy: ResolvedPolicy
  fx: Fixtures
  paths: ProbePaths
  ctx: ProbeContext
  spec: ProbeSpec
  add: (arg: string | undefined, target?: string) => void
  skip: (reason: string) => void
  unsupported: (reason: string) => void
}

/** What a `verdict` hook is given. `kept` builds the common answer: escaped when something
 * landed on the host, else blocked, by `layer` when the probe's own call had succeeded. */
export interface VerdictContext {
  label: string
  /** The label's argument (after `=`). */
  arg: string
  raw: RawResult
  fx: Fixtures
  spec: ProbeSpec
  backend: ProbeContext['backend']
  kept: (landed: boolean, layer: string | undefined, detail?: string) => HostVerdict
}

export interface HostVerdict {
  outcome: Outcome
  by?: string
  detail?: string
}

export interface ProbeSpec {
  name: string
  /** What it attacks, in words. */
  attack: string
  /** What the attack is made of: steps, each the calls any of which does it. A probe that died
   * of SIGSYS without a result is blocked where the filter kills a whole step whatever the
   * arguments (verify.ts attackKilled). */
  calls?: readonly (readonly string[])[]
  /** The arguments of the calls this probe makes, exactly (default: zeros;
   * test/verify/row-args.test.ts holds them to the probe's), for the seccomp check. */
  args?: Readonly<Record<string, readonly bigint[]>>
  /** By call, by argument: the bits the attack needs, as `args` gives them. Every other bit is
   * the attacker's to choose, so a filter that refuses the probe's call but lets a variant
   * through did not stop the attack (refusal.ts). */
  essential?: Readonly<Record<string, Readonly<Record<number, Need>>>>
  /** The entry point the call went through, when not the native one. */
  arch?: 'i386'
  /** Why the policy does not promise to block it; undefined when it does. */
  notExpected?: (p: ResolvedPolicy, ctx: ProbeContext, label: string) => string | undefined
  /** Layer by errno name (or `signal N`, `none` when blocked without an errno). */
  layers: Readonly<Record<string, string>>
  /** The labels to run (default: the probe's name alone). */
  targets?: (t: TargetContext) => void
  /** The host's verdict, when what landed on the host decides (default: the probe's own). */
  verdict?: (v: VerdictContext) => HostVerdict | undefined
  /** Run in a sandbox of its own: it exhausts a limit (`resource`: such runs go at once), or
   * a host fixture must exist or be measured only during its own run (`bracketed`). */
  alone?: 'resource' | 'bracketed'
  /** A host fixture made just before the probe's own run and removed after it; `path` is shown
   * to the sandbox (the setuid file). */
  fixture?: (fx: Fixtures) => { path?: string; remove(): void }
  /** The policy the probe's own sandbox runs, from the battery's (default: the same). */
  sandboxPolicy?: (p: ResolvedPolicy, backend: ProbeContext['backend']) => ResolvedPolicy
  /** What no result means, given how its sandbox ended (default: an error). */
  ended?: (e: { ending: Ending; ctx: ProbeContext }) => HostVerdict | undefined
  /** The layer to name, on this host, for the one attributed (default: as attributed). */
  by?: (by: string, e: { spec: ProbeSpec; ctx: ProbeContext }) => string
  /** The result's detail (default: the probe's own). */
  detail?: (e: { policy: ResolvedPolicy; raw: RawResult; why: string | undefined }) => string | undefined
}

/** How a probe's sandbox ended. */
export interface Ending {
  reason: string
  code: number
  /** The runtime's own error when it could not start the sandbox. */
  error?: string
}

export const CAPS = 'capabilities'
export const PRIVILEGED = { EPERM: CAPS } as const
export const AF_INET = 2n
export const AF_INET6 = 10n
export const AF_PACKET = 17n
export const SOCK_STREAM = 1n
export const SOCK_DGRAM = 2n
export const SOCK_RAW = 3n
export const SOCK_CLOEXEC = 0x80000n
export const AT_FDCWD = 0xffffff9cn // -100 as the filter sees it (the low 32 bits)
export const O_CREAT_EXCL = 0o300n | 0o1n | 0o2000000n // O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC
export const O_READ = 0o2000000n // O_RDONLY | O_CLOEXEC
export const O_WRITE = 0o2000001n // O_WRONLY | O_CLOEXEC
/** What glibc's opendir() opens with: O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC. */
export const O_OPENDIR = 0o2204000n
/** openat's arguments as glibc's open(path, flags, mode) makes the call. */
export const openat = (flags: bigint, mode = 0n): readonly bigint[] => [AT_FDCWD, 0n, flags, mode]

/** A file opened (the attack's `calls`: each step, every call that makes it; a filter stops the
 * attack only where it refuses each of them, refusal.ts). */
export const OPEN_CALLS = [['open', 'openat', 'openat2']] as const
/** A file created. */
export const CREATE_CALLS = [['open', 'openat', 'openat2', 'creat']] as const
/** A program run. */
export const EXEC_CALLS = [['execve', 'execveat']] as const
/** A program written, then run. */
export const WRITE_EXEC_CALLS = [...CREATE_CALLS, ...EXEC_CALLS] as const
/** A socket made, then one of these calls (alternatives: each does the next step). */
export const socketThen = (...calls: string[]): readonly (readonly string[])[] => [['socket'], calls]
