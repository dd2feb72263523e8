// The events a sandbox reports, as cordon's readers get them (the launcher writes them as JSON
// lines on its channel; run/event-parse.ts reads them). run/events.ts re-exports them.
export type SandboxEvent =
  /** The command started; cgroupJoin: how the sandbox entered its cgroup (clone3 =
   * CLONE_INTO_CGROUP into a v2 group, write = cgroup.procs), when it has one. */
  | {
      event: 'started'
      /** Host pid of the process the launcher cloned: the sandbox's init when it has one. */
      pid: number
      /** Host pid of the command (what spawn()'s `pid` reports); absent when it had already
       * ended by the time its exec was seen. */
      commandPid?: number
      cgroupJoin?: 'clone3' | 'write'
    }
  | {
      event: 'error'
      step: string
      path?: string
      dest?: string
      errno?: number
      code?: string
      message: string
      /** What the host says of it, added by spawn() (a command not found: run/not-found.ts). */
      hint?: string
    }
  | { event: 'warning'; step: string; message: string }
  /** A denial attributed to this sandbox by the launcher's audit tap (root, audit enabled). */
  | {
      event: 'denied'
      layer: string
      blockers: string
      path?: string
      port?: string
      object?: string
      pid: number
      exe: string
    }
  /** Sampled from the sandbox's cgroup while it runs (every `statsIntervalMs`). */
  | { event: 'stats'; memoryBytes: number; pids: number; cpuUsageUsec: number }
  /** The kernel's OOM killer ended a process in the sandbox (the sandbox may go on). */
  | { event: 'oom'; kills: number }
  /** A fork or clone was refused by the pids limit. */
  | { event: 'pids-limit'; refused: number }
  /** Landlock enforced at this ABI, or unavailable (abi 0, with the errno's name). */
  | { event: 'landlock'; abi: number; errno?: number; code?: string }
  | { event: 'exit'; code: number; signal?: SignalName }
  /** A process of the sandbox ran a program or ended (spawn option `processEvents`): from the
   * kernel's proc connector, or by polling /proc inside a user namespace (exits without status). */
  | {
      event: 'process'
      action: 'exec' | 'exit'
      /** Host pid. */
      pid: number
      ppid?: number
      /** The program, as a host path. */
      exe?: string
      code?: number
      signal?: SignalName
      source: 'connector' | 'polling'
    }
  /** Processes and threads the sandbox created since the previous spawn event, observed without
   * stopping any: counted by its init from the pid namespace's last pid (every 50 ms while it
   * grows), or one per fork from the proc connector when there is no pid namespace; cordon-oci's
   * supervisor counts the new pids of the container's cgroup. `pids`: the processes and threads
   * alive in the sandbox then (what a pids limit counts), when they could be counted. */
  | { event: 'spawn'; count: number; pids?: number; source: 'pid-namespace' | 'connector' | 'cgroup' }
  /** A syscall the filter notified (watched or `notify`/`deny-log`), as the launcher answered it. */
  | SyscallEvent
  /** Exact totals per syscall since the start, every 250 ms while they change and at the end;
   * `dropped` counts syscall events the launcher shed because the reader was too slow. */
  | { event: 'syscall-counts'; counts: Record<string, number>; handled: number; dropped: number }

/** A signal's name: Node's, or for those Node has none for, as bash's `kill -l` and runc name
 * them: `SIGRTMIN` (34) to `SIGRTMIN+15`, `SIGRTMAX-14` to `SIGRTMAX` (64), and glibc's own two as
 * `SIG32` and `SIG33`. */
export type SignalName =
  NodeJS.Signals | 'SIGRTMIN' | 'SIGRTMAX' | `SIGRTMIN+${number}` | `SIGRTMAX-${number}` | 'SIG32' | 'SIG33'

/** Every event's name: `'started' | 'error' | … | 'syscall-counts'`. */
export type SandboxEventName = SandboxEvent['event']

/** The event of one name, for typed handlers: `EventOf<'exit'>` is `{ event: 'exit'; code; signal? }`. */
export type EventOf<N extends SandboxEventName> = Extract<SandboxEvent, { event: N }>

export interface SyscallEvent {
  event: 'syscall'
  /** The syscall's name (or `#NR` when the tables do not know it). */
  syscall: string
  arch: string
  nr: number
  /** Host pid of the calling thread. */
  pid: number
  args: bigint[]
  /** Set when it was refused: the errno it got (deny-log). */
  errno?: number
  /** The path argument as the process passed it (exec, open, unlink, mount…). */
  path?: string
  /** For exec: when the file it runs last changed (ms since the epoch), as the sandbox sees it. */
  ctimeMs?: number
  /** For exec: the file it runs, in the sandbox's terms with every symlink followed (what
   * /proc/PID/exe will say: `/usr/bin/dash` for a call of /tmp/innocent -> /bin/sh,
   * `/memfd:NAME (deleted)` for a memfd). */
  exe?: string
  /** The second path (rename, link). Recorded paths (learn, audit) are absolute. */
  path2?: string
  /** A struct the call pointed to (sockaddr, open_how), as hex. */
  data?: string
  /** Learn and audit modes, bind and connect of an IP address: the socket's type (SOCK_STREAM
   * 1, SOCK_DGRAM 2…) and protocol (IPPROTO_TCP 6, IPPROTO_MPTCP 262…), when it could be read. */
  sockType?: number
  sockProto?: number
  /** Learn and audit modes: an argument (a path, an address) the launcher may not read: a
   * non-dumpable program of a plain user's run (a binary its user may not read, or
   * prctl(PR_SET_DUMPABLE, 0)). The call could not be judged. */
  unreadable?: boolean
  /** Learn and audit modes: the first call with this record; never dropped. */
  record?: boolean
  /** Learn and audit modes: what the launcher saw before and after a call that went on
   * (native/outcome.h), from which learning tells whether it succeeded. */
  effect?: SyscallEffect
}

/** A path's state is `dev:ino:ctimeNs`, or "" when nothing was there. */
export interface SyscallEffect {
  /** False when the thread made no syscall after it: the outcome is unknown. */
  settled: boolean
  was?: string
  now?: string
  was2?: string
  now2?: string
  /** Open flags of an fd the call left open on the path's file, -1 for none. */
  opened?: number
  execed?: boolean
  boundBefore?: boolean
  bound?: boolean
  peer?: boolean
}
