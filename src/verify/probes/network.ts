// Battery rows: sockets, the host's listeners, and the port allowlist's side doors
// (seccomp/network.ts).
import { capabilityNumber } from '../../policy/capabilities.js'
import type { ResolvedPolicy } from '../../policy/resolve.js'
import {
  AF_INET,
  AF_INET6,
  AF_PACKET,
  PRIVILEGED,
  type ProbeContext,
  type ProbeSpec,
  openat,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_RAW,
  SOCK_STREAM,
  socketThen,
  type TargetContext,
} from '../probe-spec.js'

const MSG_FASTOPEN = 0x20000000n
/** An int argument's bits: the kernel drops the upper half, the attacker may set it. */
const INT = 0xffffffffn
/** SOCK_STREAM, SOCK_DGRAM…: the type without SOCK_CLOEXEC and SOCK_NONBLOCK. */
const SOCK_TYPE = 0xfn
const O_RDWR_CLOEXEC = 0o2000002n
/** Each way of sending with MSG_FASTOPEN: its arguments (one message for sendmmsg). */
const FASTOPEN_SEND = {
  sendto: [0n, 0n, 0n, MSG_FASTOPEN],
  sendmsg: [0n, 0n, MSG_FASTOPEN],
  sendmmsg: [0n, 0n, 1n, MSG_FASTOPEN],
}
/** The TCP probes' target is the host listener `tcp-host` uses. */
const tcpAllowed = (p: ResolvedPolicy, ctx: ProbeContext) =>
  p.network === 'host' && (!p.tcp || p.tcp.connect.includes(ctx.tcpPort))
    ? 'network: host allows it'
    : undefined
const familiesAllowed = (p: ResolvedPolicy) =>
  p.network === 'host' && !p.tcp ? 'network: host shares every socket family' : undefined
const TCP_LAYERS = {
  ENETUNREACH: 'net namespace',
  ECONNREFUSED: 'net namespace',
  EACCES: 'landlock (tcp ports)',
}
/** tcp-host and the port allowlist's side doors aim at the host's TCP listener. */
const tcpListener = ({ fx, add }: TargetContext) => add(String(fx.tcpPort), `127.0.0.1:${fx.tcpPort}/tcp`)

export const NETWORK_PROBES: readonly ProbeSpec[] = [
  {
    name: 'raw-socket',
    calls: [['socket']],
    attack: 'open a raw IP socket',
    args: { socket: [AF_INET, SOCK_RAW, 1n] },
    essential: { socket: { 0: INT, 1: SOCK_TYPE } },
    notExpected: (p) =>
      p.capabilities.includes(capabilityNumber('CAP_NET_RAW')!) ? 'the policy keeps CAP_NET_RAW' : undefined,
    layers: PRIVILEGED,
  },
  {
    name: 'packet-socket',
    calls: [['socket']],
    attack: 'open a packet socket (sniff or forge frames)',
    args: { socket: [AF_PACKET, SOCK_RAW, 0x300n] },
    essential: { socket: { 0: INT, 1: SOCK_TYPE } },
    notExpected: (p) =>
      p.capabilities.includes(capabilityNumber('CAP_NET_RAW')!) ? 'the policy keeps CAP_NET_RAW' : undefined,
    layers: PRIVILEGED,
  },
  {
    name: 'tcp-host',
    calls: socketThen('connect'),
    targets: tcpListener,
    attack: 'connect to a TCP port listening on the host’s loopback',
    args: { socket: [AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0n] },
    essential: { socket: { 0: INT, 1: SOCK_TYPE } },
    notExpected: (p, ctx) =>
      p.network === 'host' && (!p.tcp || p.tcp.connect.includes(ctx.tcpPort))
        ? 'network: host allows it'
        : undefined,
    layers: {
      ENETUNREACH: 'net namespace',
      ECONNREFUSED: 'net namespace',
      EACCES: 'landlock (tcp ports)',
    },
  },
  {
    name: 'udp-host',
    calls: socketThen('sendto', 'sendmsg', 'sendmmsg', 'connect'), // connect, then write
    targets: ({ fx, add }) => add(String(fx.udpPort), `127.0.0.1:${fx.udpPort}/udp`),
    verdict: ({ fx, kept }) => kept(fx.udpReceived, undefined),
    attack: 'send a UDP datagram to the host’s loopback',
    args: { socket: [AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0n] },
    essential: { socket: { 0: INT, 1: SOCK_TYPE } },
    notExpected: (p) => (p.network === 'host' && !p.tcp ? 'network: host allows it' : undefined),
    layers: {
      ENETUNREACH: 'net namespace',
      ECONNREFUSED: 'net namespace',
      none: 'net namespace (sent, never reached the host)',
    },
  },
  // The port allowlist's and the namespace's side doors, the terminal guard's high bits (seccomp/network.ts).
  ...(['tcp-fastopen', 'tcp-fastopen6', 'tcp-fastopen-sendmsg', 'tcp-fastopen-sendmmsg'] as const).map(
    (name): ProbeSpec => {
      const send = name.endsWith('mmsg') ? 'sendmmsg' : name.endsWith('msg') ? 'sendmsg' : 'sendto'
      return {
        name,
        calls: socketThen(send),
        targets: tcpListener,
        attack: `connect to a host TCP port without connect(): ${send} with MSG_FASTOPEN${name.endsWith('6') || name.endsWith('mmsg') ? ' (IPv6)' : ''}`,
        args: {
          socket: [
            name.endsWith('6') || name.endsWith('mmsg') ? AF_INET6 : AF_INET,
            SOCK_STREAM | SOCK_CLOEXEC,
            0n,
          ],
          [send]: FASTOPEN_SEND[send],
        },
        essential: {
          socket: { 0: INT, 1: SOCK_TYPE },
          [send]: { [FASTOPEN_SEND[send].length - 1]: MSG_FASTOPEN },
        },
        notExpected: tcpAllowed,
        layers: TCP_LAYERS,
      }
    },
  ),
  {
    name: 'tcp-fastopen-connect',
    calls: [['socket'], ['setsockopt'], ['connect']], // steps, not alternatives
    targets: tcpListener,
    attack: 'connect to a host TCP port with TCP_FASTOPEN_CONNECT (the connection waits for the first write)',
    args: { socket: [AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0n], setsockopt: [0n, 6n, 30n, 0n, 4n] },
    essential: { socket: { 0: INT, 1: SOCK_TYPE }, setsockopt: { 1: INT, 2: INT } },
    notExpected: tcpAllowed,
    layers: TCP_LAYERS,
  },
  {
    name: 'listen-autobind',
    calls: socketThen('listen'),
    attack: 'listen() on an unbound TCP socket (the kernel binds a port no bind rule saw)',
    args: { socket: [AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0n] },
    essential: { socket: { 0: INT, 1: SOCK_TYPE } },
    notExpected: (p) =>
      !p.tcp
        ? 'no tcp statements: any port may be bound'
        : p.tcp.bind.length
          ? 'tcp bind ports are allowed: listen() cannot be refused, and one without bind() takes any port (the statement says partial)'
          : undefined,
    layers: { EACCES: 'seccomp' },
  },
  {
    name: 'mptcp-connect',
    calls: socketThen('connect'),
    targets: tcpListener,
    attack: 'connect to a host TCP port over MPTCP (not judged by the TCP port rules)',
    args: { socket: [AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 262n] },
    essential: { socket: { 0: INT, 1: SOCK_TYPE, 2: INT } },
    notExpected: tcpAllowed,
    layers: { ...TCP_LAYERS, EPROTONOSUPPORT: 'kernel (MPTCP off)' },
  },
  {
    name: 'vsock',
    calls: [['socket']],
    attack: 'open a vsock socket (not network-namespaced: it reaches the hypervisor)',
    args: { socket: [40n, SOCK_STREAM | SOCK_CLOEXEC, 0n] },
    essential: { socket: { 0: INT } },
    notExpected: familiesAllowed,
    layers: { EAFNOSUPPORT: 'kernel (no vsock)' },
  },
  {
    name: 'net-families',
    calls: [['socket']],
    attack:
      'open sockets of families outside the net namespace (Bluetooth, CAN, NFC, Qualcomm IPC, KCM, TIPC…)',
    args: { socket: [31n, 5n | SOCK_CLOEXEC, 0n] }, // Bluetooth's refusal is the one named
    essential: { socket: { 0: INT } },
    notExpected: familiesAllowed,
    layers: { EAFNOSUPPORT: 'kernel (family absent or host-only)' },
  },
  {
    name: 'tiocsti-high-bits',
    calls: [['ioctl']],
    attack: 'push keystrokes with ioctl(1 << 32 | TIOCSTI) (the kernel ignores the high bits)',
    // Its pty's opens (/dev/ptmx, then the terminal): a sandbox's session has no terminal, so one
    // it cannot make leaves it none to push into (native/attack-net.c).
    args: { ioctl: [0n, (1n << 32n) | 0x5412n], openat: openat(O_RDWR_CLOEXEC) },
    essential: { ioctl: { 1: INT } }, // the kernel reads the request as an int
    layers: {
      ENOENT: 'mount view (no pty)',
      EACCES: 'landlock (no pty)',
      EIO: 'kernel (legacy TIOCSTI off)',
    },
  },
  {
    name: 'abstract-unix',
    calls: socketThen('connect', 'sendto', 'sendmsg', 'sendmmsg'), // or a datagram to its name
    targets: ({ fx, add }) => add(fx.abstractName, `@${fx.abstractName}`),
    attack: 'connect to a host abstract UNIX socket',
    args: { socket: [1n, SOCK_STREAM | SOCK_CLOEXEC, 0n] },
    essential: { socket: { 0: INT } },
    notExpected: (p) =>
      p.network === 'host' && !p.landlock.scopes.includes('abstract-unix-socket')
        ? 'network: host without the abstract-unix-socket scope'
        : undefined,
    layers: { ECONNREFUSED: 'net namespace', EPERM: 'landlock (scope)' },
  },
  {
    name: 'proc-connector',
    calls: socketThen('bind'),
    attack: "watch every host process's fork, exec and exit (the kernel's proc connector)",
    args: { socket: [16n, 0x80002n, 11n] }, // AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR
    essential: { socket: { 0: INT, 2: INT } },
    // Kernels differ: some let any user subscribe (NL_CFG_F_NONROOT_RECV), and then only the
    // net namespace stops it; others keep binding to CAP_NET_ADMIN, which the sandbox dropped.
    layers: {
      ECONNREFUSED: 'net namespace (the connector lives in the host’s)',
      EPERM: 'capabilities (this kernel lets only CAP_NET_ADMIN listen)',
    },
  },
]
