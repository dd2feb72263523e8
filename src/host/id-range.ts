// The host ids a root caller's sandboxes run as. A sandbox started by root holds no host root
// file powers by default (DESIGN.md): its ids map to an unprivileged range, as rootless Podman
// and Docker's userns-remap do. The range is the first /etc/subuid (/etc/subgid) entry for the
// user `cordon`, else for `root`, else cordon's own: the last 64 Ki ids of the block systemd
// reserves for containers (524288–1879048191), which no login user or service is given.
import { hostReadText } from './reads.js'

export interface IdRange {
  /** First host id; inside id N is host id start + N. */
  start: number
  count: number
  /** Where it came from: "/etc/subuid (cordon)" or "cordon's default". */
  source: string
}

export interface HostIdRanges {
  uid: IdRange
  gid: IdRange
}

export const DEFAULT_RANGE_START = 1879048192 - 65536
export const DEFAULT_RANGE_COUNT = 65536

/** The first usable `NAME:START:COUNT` line for one of names (in that order of preference). */
export function parseSubidFile(
  text: string,
  names: readonly string[],
): { name: string; start: number; count: number } | undefined {
  const entries = text
    .split('\n')
    .map((line) => line.trim().split(':'))
    .filter((f) => f.length === 3 && /^\d+$/.test(f[1]!) && /^\d+$/.test(f[2]!))
    .map(([name, start, count]) => ({ name: name!, start: Number(start), count: Number(count) }))
    // A range that holds host root, or too small for the usual ids inside, is no sandbox identity.
    .filter((e) => e.start > 0 && e.count >= 1 && e.start + e.count <= 0xffffffff)
  for (const name of names) {
    const found = entries.find((e) => e.name === name)
    if (found) return found
  }
  return undefined
}

function rangeFrom(file: string, names: readonly string[]): IdRange {
  let text = ''
  try {
    text = hostReadText(file)
  } catch {}
  const e = parseSubidFile(text, names)
  if (e) return { start: e.start, count: Math.min(e.count, 65536), source: `${file} (${e.name})` }
  return { start: DEFAULT_RANGE_START, count: DEFAULT_RANGE_COUNT, source: "cordon's default" }
}

export function hostIdRanges(): HostIdRanges {
  return {
    uid: rangeFrom('/etc/subuid', ['cordon', 'root', '0']),
    gid: rangeFrom('/etc/subgid', ['cordon', 'root', '0']),
  }
}

/** True in the host's own user namespace: a uid 0 caller there is the host's root. Inside
 * another sandbox (a nested cordon) uid 0 is that namespace's, and its ids are kept. */
export function inInitialUserNamespace(): boolean {
  try {
    return /^\s*0\s+0\s+4294967295\s*$/.test(hostReadText('/proc/self/uid_map'))
  } catch {
    return true
  }
}
