// A sandbox's event stream: the launcher's JSON lines (fd 4) and the samples of its cgroup, in
// arrival order, to one observer and to any number of async iterations (each event once). What
// spawn() needs to know from the stream (the first error, the exit, whether the command
// started) is kept here too, so that spawn() reads it rather than watching every event.
import type { Cgroup } from '../cgroup/driver.js'
import { parseEventLine, type SyscallNamer } from './event-parse.js'
import type { EventOf, SandboxEvent } from './event-types.js'
import type { LauncherChannel } from './launcher-process.js'

export class EventStream implements AsyncIterable<SandboxEvent> {
  private readonly buffered: SandboxEvent[] = []
  private readonly waiters: ((r: IteratorResult<SandboxEvent>) => void)[] = []
  /** No event comes after this: iterations end once the buffer is read. */
  ended = false
  /** The first setup step that failed. */
  lastError: EventOf<'error'> | undefined
  /** The launcher's own report of how the command ended. */
  exitEvent: EventOf<'exit'> | undefined
  /** The command's exec succeeded. */
  started = false
  /** The cgroup's last look, taken once, just before the exit is pushed (see sample). */
  private beforeExit: (() => void) | undefined

  /** `onEvent` sees each event first, with its line when it came from the launcher (undefined
   * once `amend` changed the event). `amend` may add to an event before anyone sees it, the
   * iterations included; it returns true when it did. */
  constructor(
    private readonly onEvent: (ev: SandboxEvent, line?: string) => void,
    private readonly amend?: (ev: SandboxEvent) => boolean,
    /** How syscall numbers are named (events.ts syscallNames; none: `#NR`). */
    private readonly names?: SyscallNamer,
  ) {}

  push(ev: SandboxEvent, line?: string): void {
    if (ev.event === 'exit' && this.beforeExit) {
      const last = this.beforeExit
      this.beforeExit = undefined
      last()
    }
    if (this.amend?.(ev)) line = undefined
    if (ev.event === 'error') this.lastError ??= ev
    if (ev.event === 'exit') this.exitEvent = ev
    if (ev.event === 'started') this.started = true
    const w = this.waiters.shift()
    if (w) w({ value: ev, done: false })
    else this.buffered.push(ev)
    this.onEvent(ev, line)
  }

  /** Reads the launcher's lines; resolves when its channel has ended, however it ends. */
  read(input: LauncherChannel): Promise<void> {
    // Split here: readline's interface cost more than the parsing. A listener that throws (the
    // program's uncaught exception, as from a stream's listener) does not take the lines read
    // with its own: they follow on the next tick, in order, and the end waits for them.
    return new Promise<void>((resolve) => {
      let partial = ''
      let queue: string[] = []
      let next = 0
      let ended = false
      const drain = (): void => {
        try {
          while (next < queue.length) {
            const line = queue[next++]!
            this.push(parseEventLine(line, this.names), line)
          }
        } finally {
          if (next < queue.length) process.nextTick(drain)
          else {
            queue = []
            next = 0
            if (ended) resolve()
          }
        }
      }
      input.read(
        (chunk) => {
          const lines = (partial + chunk).split('\n')
          partial = lines.pop()!
          if (next === queue.length) {
            queue = lines
            next = 0
          } else for (const line of lines) queue.push(line)
          drain()
        },
        () => {
          if (partial) queue.push(partial)
          ended = true
          drain()
        },
      )
    })
  }

  /** Samples the cgroup every intervalMs: usage as `stats`, and OOM kills or refused forks as
   * they happen. Returns what stops it. */
  sample(cgroup: Cgroup, intervalMs: number): () => void {
    let seen = { oomKills: 0, pidsMax: 0 }
    const check = (stats: boolean) => {
      const due: SandboxEvent[] = []
      try {
        const now = cgroup.events()
        if (now.oomKills > seen.oomKills) due.push({ event: 'oom', kills: now.oomKills })
        if (now.pidsMax > seen.pidsMax) due.push({ event: 'pids-limit', refused: now.pidsMax })
        seen = now
        if (stats) {
          const { memoryBytes, pids, cpuUsageUsec } = cgroup.stats()
          due.push({ event: 'stats', memoryBytes, pids, cpuUsageUsec })
        }
      } catch {} // the cgroup is gone: the run is ending
      // Pushed outside the try: a listener's throw is the program's uncaught exception, not
      // swallowed here, and `seen` has moved on, so an OOM kill is not told again.
      this.pushAll(due, 0)
    }
    const timer = setInterval(() => check(true), intervalMs)
    timer.unref()
    // The OOM killer that ends the command itself acts between two samples: the last look comes
    // before the exit is told, or a monitor (which lets go of a sandbox at its exit) never hears it.
    this.beforeExit = () => check(false)
    return () => {
      clearInterval(timer)
      this.beforeExit = undefined
    }
  }

  /** Pushes each of evs in order; after a listener's throw, the rest follow on the next tick. */
  private pushAll(evs: readonly SandboxEvent[], from: number): void {
    let i = from
    try {
      for (; i < evs.length; i++) this.push(evs[i]!)
    } finally {
      if (i + 1 < evs.length) process.nextTick(() => this.pushAll(evs, i + 1))
    }
  }

  /** No more events: every waiting iteration ends. */
  end(): void {
    this.ended = true
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): AsyncIterator<SandboxEvent> {
    return {
      next: () => {
        const ev = this.buffered.shift()
        if (ev) return Promise.resolve({ value: ev, done: false })
        if (this.ended) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => this.waiters.push(resolve))
      },
    }
  }
}
