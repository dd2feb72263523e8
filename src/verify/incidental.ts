// Flags a probe passes that its attack does not need: an attacker sets or clears them at will.
// A filter that refuses the probe's call only with some of them set (or clear) did not stop the
// attack (helper-154: openat refused with EACCES only with O_CLOEXEC, while a plain open read
// /etc/shadow). The bits that make the attack (O_WRONLY to write, MSG_FASTOPEN, the setuid bit of
// a mode, MFD_NOEXEC_SEAL's absence) are not here: a rule on them is a rule on the attack.
import { answerFor, letsThrough } from '../seccomp/reference.js'
import type { SeccompSpec } from '../seccomp/model.js'

const O_FREE = 0o2000000n | 0o4000n | 0o400n | 0o100000n // O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_LARGEFILE
const PERMISSIONS = 0o777n
const SOCK_FREE = 0o2000000n | 0o4000n // SOCK_CLOEXEC | SOCK_NONBLOCK
const MSG_FREE = 0x40n | 0x4000n // MSG_DONTWAIT | MSG_NOSIGNAL

/** By call, by argument position: the bits an attacker may flip. */
export const INCIDENTAL: Readonly<Record<string, Readonly<Record<number, bigint>>>> = {
  open: { 1: O_FREE, 2: PERMISSIONS },
  openat: { 2: O_FREE, 3: PERMISSIONS },
  creat: { 1: PERMISSIONS },
  socket: { 1: SOCK_FREE },
  sendto: { 3: MSG_FREE },
  sendmsg: { 2: MSG_FREE },
  sendmmsg: { 3: MSG_FREE },
  memfd_create: { 1: 0x1n | 0x2n }, // MFD_CLOEXEC | MFD_ALLOW_SEALING
  userfaultfd: { 0: O_FREE },
  mknod: { 1: PERMISSIONS },
  mknodat: { 2: PERMISSIONS },
  chmod: { 1: PERMISSIONS },
  fchmodat: { 2: PERMISSIONS },
}

/** The arguments like `args` but for incidental bits: each bit flipped alone, and each
 * position's bits all set and all clear, across the positions. */
function variants(call: string, args: readonly bigint[]): bigint[][] {
  let out: bigint[][] = [[...args]]
  for (const [at, mask] of Object.entries(INCIDENTAL[call] ?? {})) {
    const i = Number(at)
    const v = args[i] ?? 0n
    const values = new Set([v & ~mask, v | mask])
    for (let bit = 1n; bit <= mask; bit <<= 1n) if (mask & bit) values.add(v ^ bit)
    out = out.flatMap((a) => [...values].map((x) => a.map((y, k) => (k === i ? x : y))))
  }
  return out
}

/** Arguments differing from `args` only in incidental bits that the filter lets `call` through
 * with, on this machine's entry point; undefined when it refuses every such variant alike. */
export function incidentalPass(
  filter: SeccompSpec,
  call: string,
  args: readonly bigint[],
): bigint[] | undefined {
  if (!INCIDENTAL[call]) return undefined
  const padded = [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6)
  return variants(call, padded).find((a) => {
    const value = answerFor(filter, call, a)
    return value !== undefined && letsThrough(value)
  })
}
