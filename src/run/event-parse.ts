// The launcher's event lines parsed, with the syscall names given by the caller: events.ts names
// them from cordon's syscall tables (seccomp/arch.ts), which a run that asks for no syscall
// events never needs; `cordon run`'s lean path (cli/run-fast.ts) parses without them.
import { jsonLine } from './escape.js'
import type { SandboxEvent, SyscallEvent } from './event-types.js'

/** Names for the launcher's audit arch and syscall number. */
export type SyscallNamer = (audit: number, nr: number) => { arch: string; syscall: string }

/** Numbers as names when no tables are at hand: `#NR`, the arch by its audit value. */
const unnamed: SyscallNamer = (audit, nr) => ({ arch: `0x${audit.toString(16)}`, syscall: `#${nr}` })

/** A syscall line as the launcher writes it: numbers instead of names, hex-string arguments. */
type RawSyscall = Omit<SyscallEvent, 'syscall' | 'arch' | 'args'> & { arch: number; args: string[] }

/** The launcher's numbers become names here, once, for every consumer. */
function translate(value: { event: string }, names: SyscallNamer): SandboxEvent {
  if (value.event === 'syscall') {
    const raw = value as RawSyscall
    return {
      ...raw,
      ...names(raw.arch, raw.nr),
      args: raw.args.map((a) => BigInt(a)),
    }
  }
  if (value.event === 'syscall-counts') {
    const raw = value as unknown as { counts: Record<string, number>; handled: number; dropped: number }
    const counts: Record<string, number> = {}
    for (const [key, n] of Object.entries(raw.counts)) {
      const [audit, nr] = key.split(':')
      const name = nr === 'other' ? 'other' : names(Number(audit), Number(nr)).syscall
      counts[name] = (counts[name] ?? 0) + n
    }
    return { event: 'syscall-counts', counts, handled: raw.handled, dropped: raw.dropped }
  }
  return value as SandboxEvent
}

/** One event as a JSON line's text: 64-bit syscall arguments as hex strings, and every
 * character a line splitter or terminal could act on escaped (jsonLine). */
export function eventJson(ev: SandboxEvent): string {
  return jsonLine(ev, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))
}

/** Parses one line; anything unexpected becomes a warning rather than an exception. */
export function parseEventLine(line: string, names: SyscallNamer = unnamed): SandboxEvent {
  try {
    const value = JSON.parse(line) as { event?: unknown }
    if (typeof value === 'object' && value !== null && typeof value.event === 'string')
      return translate(value as { event: string }, names)
  } catch {}
  return { event: 'warning', step: 'events', message: `unreadable event line: ${line.slice(0, 200)}` }
}
