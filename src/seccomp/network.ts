// The network statements' seccomp half: the ways out that Landlock's TCP port rules and the net
// namespace do not see. Every rule here only refuses (none allows), so a policy's own refusals
// of the same calls still hold, and OCI runtimes get rules whose overlaps cannot disagree.
//
// Landlock (ABI 4+) judges the port of bind() and connect() on TCP sockets, nothing else:
// - sendto/sendmsg/sendmmsg with MSG_FASTOPEN, and TCP_FASTOPEN_CONNECT followed by a write,
//   connect inside the send, without the connect hook Landlock listens on;
// - listen() on an unbound socket binds an ephemeral port without the bind hook;
// - UDP, SCTP, MPTCP (IPPROTO_MPTCP, a SOCK_STREAM protocol of its own: on Linux 6.18 Landlock
//   restricts neither its bind() nor its connect()), raw and packet sockets are not TCP, so no
//   port rule applies to them;
// - some socket families are not network-namespaced at all (vsock reaches the hypervisor) or
//   are the host's only (Bluetooth, NFC, CAN, Qualcomm IPC): a private net namespace does not
//   hold them back.
// io_uring (which could send with MSG_FASTOPEN out of the filter's sight) is refused in every
// filter (plan/compile.ts NO_SETID). splice, sendfile and write on an unconnected TCP socket
// fail with EPIPE/ENOTCONN; TCP_REPAIR needs CAP_NET_ADMIN, which no sandbox keeps.
import type { RawArg, RawRule } from './profiles.js'

/** The network statements of a policy (policy/resolve.ts ResolvedPolicy), as far as the filter
 * depends on them: seccomp sits below the policy and knows it only by this shape. */
export interface NetworkStatements {
  network: string
  tcp?: { bind: readonly unknown[] }
  namespaces: { net: boolean }
}

const AF_INET = 2
const AF_INET6 = 10
const AF_PACKET = 17
const MSG_FASTOPEN = 0x20000000
const IPPROTO_TCP = 6
const TCP_FASTOPEN_CONNECT = 30

/** Socket families a sandbox keeps whenever its network is limited: they either live in the
 * sandbox's own net namespace or are not a network. AF_UNIX (1: pathname sockets are the
 * filesystem's, abstract ones the namespace's), AF_INET (2), AF_INET6 (10), AF_NETLINK (16,
 * per namespace), AF_PACKET (17, per namespace and needing CAP_NET_RAW), AF_ALG (38: the kernel's
 * crypto API, no peer). Every other family is refused, so a family added after this list is
 * refused too. The refused ones include AF_VSOCK (40: not namespaced, reaches the hypervisor and
 * other VMs), AF_BLUETOOTH (31), AF_NFC (39), AF_CAN (29), AF_IEEE802154 (36), AF_QIPCRTR (42),
 * AF_X25, AF_AX25, AF_APPLETALK, AF_LLC (host-only or radio hardware), AF_KCM (41), AF_XDP (44),
 * AF_RDS (21), AF_TIPC (30), AF_SMC (43) and AF_MCTP (45) (namespaced, but large kernel
 * surfaces no sandboxed program needs). */
export const KEPT_FAMILIES = [1, 2, 10, 16, 17, 38] as const
/** Families at or above this are refused by one comparison (AF_MAX is 46 on Linux 6.18). */
const REFUSED_FROM = 39

/** A layer the compiler appends to the policy's seccomp layers. */
export interface NetworkRules {
  origin: string
  rules: RawRule[]
}

const int = (index: number, op: RawArg['op'], value: number): RawArg => ({ index, op, value, width: 32 })
const ints = (index: number, values: number[]): RawArg => ({ index, op: 'in', values, width: 32 })
const bitSet = (index: number, bit: number): RawArg => ({
  index,
  op: 'masked-eq',
  mask: bit,
  value: bit,
  width: 32,
})
const refuse = (syscalls: string[], errno: string, args?: RawArg[]): RawRule => ({
  syscalls,
  action: `errno(${errno})`,
  ...(args ? { args } : {}),
})

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const REFUSED_BELOW = range(0, REFUSED_FROM - 1).filter(
  (f) => !(KEPT_FAMILIES as readonly number[]).includes(f),
)

/** With `tcp:` statements: IP sockets are TCP only, and nothing connects around connect().
 * socket(AF_INET|AF_INET6, type, protocol) is refused unless type is SOCK_STREAM (any type bit
 * besides the low one set means another type) and protocol is 0 or IPPROTO_TCP; AF_PACKET is
 * refused. i386's socketcall hides its arguments from the filter, so it goes too. */
export const TCP_ONLY: NetworkRules = {
  origin: 'tcp statements',
  rules: [
    ...[0x2, 0x4, 0x8].map((bit) =>
      refuse(['socket'], 'EACCES', [ints(0, [AF_INET, AF_INET6]), bitSet(1, bit)]),
    ),
    refuse(['socket'], 'EACCES', [ints(0, [AF_INET, AF_INET6]), ints(2, range(1, IPPROTO_TCP - 1))]),
    refuse(['socket'], 'EACCES', [ints(0, [AF_INET, AF_INET6]), int(2, 'ge', IPPROTO_TCP + 1)]),
    refuse(['socket'], 'EACCES', [int(0, 'eq', AF_PACKET)]),
    refuse(['socketcall'], 'ENOSYS'),
    // The flags are an int: arg 3 of sendto, arg 2 of sendmsg,
    // arg 3 of sendmmsg (one set of flags for every message: the kernel ignores msg_flags).
    refuse(['sendto', 'sendmmsg'], 'EACCES', [bitSet(3, MSG_FASTOPEN)]),
    refuse(['sendmsg'], 'EACCES', [bitSet(2, MSG_FASTOPEN)]),
    refuse(['setsockopt'], 'EACCES', [int(1, 'eq', IPPROTO_TCP), int(2, 'eq', TCP_FASTOPEN_CONNECT)]),
  ],
}

/** With `tcp:` statements that allow no bind port: listen() is refused, since on an unbound
 * socket it picks a port itself. The filter sees only a descriptor, so this refuses listen() on
 * every socket, UNIX ones included. */
export const TCP_NO_BIND: NetworkRules = {
  origin: 'tcp statements (no bind port)',
  rules: [refuse(['listen'], 'EACCES')],
}

/** Whenever the network is limited (`none`, `loopback`, or `tcp:` statements): socket families
 * outside KEPT_FAMILIES are refused, as by a kernel without them. */
export const NET_FAMILIES: NetworkRules = {
  origin: 'network families',
  rules: [
    refuse(['socket', 'socketpair'], 'EAFNOSUPPORT', [ints(0, REFUSED_BELOW)]),
    refuse(['socket', 'socketpair'], 'EAFNOSUPPORT', [int(0, 'ge', REFUSED_FROM)]),
    refuse(['socketcall'], 'ENOSYS'),
  ],
}

/** `network: none` without a net namespace: no socket that reaches a network at all. (In an
 * empty net namespace these would exist but reach nothing; here they would reach the host's.) */
export const NO_IP: NetworkRules = {
  origin: 'network none without a net namespace',
  rules: [
    refuse(['socket', 'socketpair'], 'EAFNOSUPPORT', [int(0, 'eq', 2)]),
    refuse(['socket', 'socketpair'], 'EAFNOSUPPORT', [int(0, 'eq', 10)]),
    refuse(['socket', 'socketpair'], 'EAFNOSUPPORT', [int(0, 'eq', 17)]),
  ],
}

export const NETWORK_LAYERS = {
  'no-ip': NO_IP,
  'tcp-only': TCP_ONLY,
  'tcp-no-bind': TCP_NO_BIND,
  'net-families': NET_FAMILIES,
} as const
export type NetworkLayer = keyof typeof NETWORK_LAYERS

export const NETWORK_NOTES: Record<NetworkLayer, string> = {
  'no-ip': 'IPv4, IPv6 and packet sockets refused (network none without a net namespace)',
  'tcp-only': 'IP sockets other than TCP, MSG_FASTOPEN and TCP_FASTOPEN_CONNECT refused (tcp statements)',
  'tcp-no-bind': 'listen() refused (tcp statements allow no bind port)',
  'net-families':
    'socket families other than unix, inet, inet6, netlink, packet and alg refused (limited network)',
}

/** The layers a policy's `tcp:` section adds (networkLayers). */
export const TCP_LAYERS: ReadonlySet<string> = new Set<NetworkLayer>(['tcp-only', 'tcp-no-bind'])

/** The network layers a policy's filter carries, in the order they are appended. */
export function networkLayers(policy: NetworkStatements): NetworkLayer[] {
  const limited = policy.network !== 'host' || policy.tcp !== undefined
  return [
    ...(policy.network === 'none' && !policy.namespaces.net ? ['no-ip' as const] : []),
    ...(policy.tcp ? ['tcp-only' as const] : []),
    ...(policy.tcp && policy.tcp.bind.length === 0 ? ['tcp-no-bind' as const] : []),
    ...(limited ? ['net-families' as const] : []),
  ]
}

/** Layers of the TCP statement beyond Landlock's port rules: seccomp refuses what Landlock cannot
 * judge, which completes the statement only where Landlock judges the ports. Alone it enforces no
 * port, so without Landlock it counts as missing too (the status is then `none`, not `partial`).
 * listen() after an allowed bind and listen() without one look the same to the filter: with bind
 * ports allowed, a listen() that picks its own port is enforced by no layer. */
export function tcpStatementLayers(
  policy: NetworkStatements,
  landlock: { layer: string; ok: boolean; why: string },
): { layer: string; ok: boolean; why: string }[] {
  const bind = policy.tcp?.bind ?? []
  return [
    landlock,
    {
      layer: 'seccomp',
      ok: landlock.ok,
      why: 'seccomp refuses only what Landlock cannot judge (non-TCP sockets, fast open, listen); it enforces no port by itself',
    },
    ...(bind.length && landlock.ok
      ? [
          {
            layer: 'landlock (listen)',
            ok: false,
            why: 'listen() on an unbound socket takes an ephemeral port that no layer judges (allowed bind ports make listen() necessary)',
          },
        ]
      : []),
  ]
}
