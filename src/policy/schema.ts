// The policy, version 1. This file is the single source for validation, the `Policy` type and
// the JSON Schema published for editors (schema/policy.schema.json, `cordon schema`).
import * as s from './schema-dsl.js'
import { suggest } from '../errors.js'
import { unknownSyscallHint } from '../seccomp/arch.js'
import { ACCESS, accessMask, FS, MAX_ABI, NET_ABI, SCOPE_ABI, SHORTHANDS } from '../landlock/rights.js'
import { GROUPS } from '../seccomp/groups.js'
import { parseAction } from '../seccomp/resolve.js'
import { CAPABILITIES, capabilityNumber } from './capabilities.js'

// A size: bytes, or a number (decimals allowed, as for --cpus) with K, M, G or T, powers of
// 1024 (512M, 1.5G, 2GiB). A fraction of a byte rounds down.
const SIZE = /^(\d+(?:\.\d+)?)([KMGT]i?)?B?$/i
const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }

/** The policy's `network` values (and `--net`'s). */
export const NETWORK_MODES = ['none', 'loopback', 'host'] as const

/** "512M" → bytes; numbers pass through. Undefined for anything else. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined
  const m = SIZE.exec(text.trim())
  if (!m || (!m[2] && m[1]!.includes('.'))) return undefined
  const bytes = Math.floor(Number(m[1]) * (m[2] ? UNITS[m[2][0]!.toUpperCase()]! : 1))
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

/** Below this a sandbox cannot start (the launcher and a shell need a few MiB). */
export const MIN_MEMORY = 2 ** 20

export { sizeWord } from './size-word.js'

const size = s.string({
  expected: 'a size like "64M"',
  description: 'Bytes, with an optional K, M, G or T suffix (powers of 1024).',
  check: (v) => (parseSize(v) === undefined ? `expected a size like "64M", got \`${v}\`` : undefined),
})

const PERCENT = /^(\d+(?:\.\d+)?)%$/

/** "50%" of `total` bytes, else a size as parseSize reads it. */
/** The percentage a memory size was given as ("25%" → 25), or undefined for a byte size. */
export function memoryPercent(text: string | number): number | undefined {
  const m = typeof text === 'string' ? PERCENT.exec(text.trim()) : null
  return m ? Number(m[1]) : undefined
}

export function parseMemory(text: string | number, total: number): number | undefined {
  const m = typeof text === 'string' ? PERCENT.exec(text.trim()) : null
  if (!m) return parseSize(text)
  const pct = Number(m[1])
  return pct > 0 && pct <= 100 ? Math.floor((total * pct) / 100 / 4096) * 4096 : undefined
}

const memory = s.string({
  expected: 'a size like "512M", a share of the host memory like "50%", or "max"',
  description:
    'Bytes, with an optional K, M, G or T suffix (powers of 1024), a percentage of the host memory, ' +
    'or "max" for no limit (lifts an inherited one).',
  check: (v) => {
    if (v === 'max') return undefined
    const bytes = parseMemory(v, 2 ** 40)
    if (bytes === undefined)
      return `expected a size like "512M" or "1.5G" (K, M, G, T: powers of 1024), a percentage like "50%" or "max", got \`${v}\``
    if (!PERCENT.test(v.trim()) && bytes < MIN_MEMORY)
      return `\`${v}\` is ${bytes} bytes: a sandbox needs at least 1M to start (sizes take K, M, G or T)`
    return undefined
  },
})

const mode = s.string({
  expected: 'an octal mode like "0755"',
  description: 'Octal permission bits, as a string: "0755", "1777".',
  check: (v) => (/^0?[0-7]{3,4}$/.test(v) ? undefined : `expected an octal mode like "0755", got \`${v}\``),
})

const absolute = (what: string) =>
  s.string({
    expected: `an absolute path (${what})`,
    check: (v) =>
      v.startsWith('/')
        ? undefined
        : `expected an absolute path, got \`${v}\`; write it from / as seen inside the sandbox`,
  })

const hostPath = s.string({
  expected: 'a host path',
  description: 'Path on the host. Relative paths are resolved against the policy file\u2019s directory.',
  check: (v) => (v.length === 0 ? 'the path is empty' : undefined),
})

// The words come from landlock/rights.ts, the one list of access names and shorthands.
const SHORT_WORDS = Object.keys(SHORTHANDS).join(', ')
const RIGHT_WORDS = Object.keys(ACCESS).join(', ')
const accessNames = s.string({
  expected: `an access right like "read" or a shorthand (${SHORT_WORDS})`,
  check: (v) =>
    Object.hasOwn(SHORTHANDS, v) || Object.hasOwn(ACCESS, v)
      ? undefined
      : `unknown access \`${v}\`: use ${SHORT_WORDS} or ${RIGHT_WORDS}`,
})
const accessList = s.array(accessNames)
const access: s.Schema<string | string[]> = {
  expected: `an access shorthand (${SHORT_WORDS}) or a list of rights`,
  check: (value, path, issues) =>
    typeof value === 'string'
      ? accessNames.check(value, path, issues)
      : accessList.check(value, path, issues),
  jsonSchema: () => ({
    description: `Landlock rights on this path: ${SHORT_WORDS}, or a list of ${RIGHT_WORDS}.`,
    oneOf: [accessNames.jsonSchema(), accessList.jsonSchema()],
  }),
}

const bindLong = s.object({
  src: hostPath,
  dest: s.optional(absolute('inside the sandbox')),
  optional: s.optional(s.boolean('Skip the entry when the source does not exist.')),
  access: s.optional(access),
})
export type BindSpec = string | s.Infer<typeof bindLong>
const bind = (description: string) =>
  s.shorthand<BindSpec>(
    s.string({ expected: 'a path or "SRC:DEST"', check: (v) => (v ? undefined : 'the path is empty') }),
    bindLong,
    description,
  )

const tmpfsLong = s.object(
  {
    dest: absolute('the mount point'),
    size: s.optional(size),
    mode: s.optional(mode),
    access: s.optional(access),
    exec: s.optional(
      s.boolean('false: nothing in it can be executed (a noexec mount, and no Landlock execute right)'),
    ),
  },
  {
    // Without execute in `access` the mount is noexec (plan/view.ts noexecWhere): `exec: true`
    // would be quietly overruled.
    refine: (t) =>
      t.exec === true && t.access !== undefined && !(accessMask([t.access].flat()).mask & FS.execute)
        ? {
            key: 'exec',
            message:
              'is true, but `access` leaves execute out, which makes the mount noexec: add execute to `access` (or use rx or rw), or drop `exec`',
          }
        : undefined,
  },
)
const mkdirLong = s.object({ dest: absolute('the directory'), mode: s.optional(mode) })

const filesystemEntry = s.oneKey(
  {
    ro: bind('Read-only bind of a host path, recursively ("SRC" or "SRC:DEST").'),
    rw: bind('Read-write bind of a host path.'),
    tmpfs: s.shorthand<string | s.Infer<typeof tmpfsLong>>(
      absolute('the mount point'),
      tmpfsLong,
      'A private, empty, writable tmpfs; it vanishes with the sandbox.',
    ),
    proc: absolute('usually /proc'),
    dev: absolute('usually /dev'),
    mask: absolute('the path to hide'),
    symlink: s.object({ target: s.string(), dest: absolute('the link') }),
    file: s.object({ dest: absolute('the file'), content: s.string(), mode: s.optional(mode) }),
    mkdir: s.shorthand<string | s.Infer<typeof mkdirLong>>(absolute('the directory'), mkdirLong),
  },
  'One entry of the filesystem view; later entries win over earlier ones at the same destination.',
)
export type FilesystemEntry = s.Infer<typeof filesystemEntry>

const envName = s.string({
  expected: 'an environment variable name',
  check: (v) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : `\`${v}\` is not a variable name`),
})

export const NAMESPACES = ['user', 'pid', 'mount', 'ipc', 'uts', 'net', 'cgroup', 'time'] as const

/** Gaps a policy can accept in so many words (`acknowledge:`): statements no layer enforces in
 * the policy's mode, which otherwise make `cordon run` refuse (landlock/status.ts). */
export const ACKNOWLEDGEMENTS = ['no-view', 'host-root', 'tcp-ports', 'scopes'] as const
export type Acknowledgement = (typeof ACKNOWLEDGEMENTS)[number]
export type NamespaceName = (typeof NAMESPACES)[number]

const namespaces = s.object(
  Object.fromEntries(
    NAMESPACES.map((n) => [n, s.optional(s.boolean(`Create a new ${n} namespace.`))]),
  ) as Record<NamespaceName, s.Optional<boolean>>,
  { description: 'Namespaces to create. `net` follows `network` unless set.' },
)

const id = s.integer({ min: 0, max: 4294967294 })

const u64: s.Schema<number | string> = {
  expected: 'an integer or a "0x…" string',
  check(value, path, issues) {
    if (typeof value === 'number' && Number.isSafeInteger(value)) return value
    if (typeof value === 'string' && /^-?(0x[0-9a-fA-F]+|\d+)$/.test(value)) return value
    issues.push({
      code: 'invalid_type',
      path,
      message: `Expected \`${path.join('.')}\` to be an integer or a "0x…" string (64-bit values do not fit a JSON number)`,
    })
    return undefined
  },
  jsonSchema: () => ({
    oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^-?(0x[0-9a-fA-F]+|\\d+)$' }],
  }),
}

// Names are checked here, not only when the policy is resolved: a problem found while parsing
// a file carries its file:line:col and is listed with the others, in file order.
const seccompAction = s.string({
  expected: 'an action like "errno(EPERM)"',
  check: (v) => {
    const action = parseAction(v)
    return typeof action === 'string' ? action : undefined
  },
  description:
    'allow, errno(NAME|N), deny-log(NAME|N) (refused and reported by the monitor), kill-process, kill-thread, trap, log, trace, trace(N) or notify (allowed and reported).',
})

/** A syscall name any supported arch knows, or a group: else what is wrong, with a near name. */
function syscallProblem(name: string): string | undefined {
  if (name.startsWith('@')) {
    if (GROUPS[name]) return undefined
    const hint = suggest(name, Object.keys(GROUPS))
    return `unknown syscall group \`${name}\`${hint ? `; did you mean \`${hint}\`?` : ''} (see \`cordon seccomp groups\`)`
  }
  const hint = unknownSyscallHint(name)
  return hint === undefined ? undefined : `unknown syscall \`${name}\`${hint}`
}

const seccompRule = s.object({
  syscalls: s.array(
    s.string({ expected: 'a syscall name or @group', check: syscallProblem }),
    'Syscall names and @groups (`cordon seccomp groups`).',
  ),
  action: seccompAction,
  args: s.optional(
    s.array(
      s.object({
        index: s.integer({ min: 0, max: 5 }),
        op: s.literal(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'masked-eq', 'in']),
        value: s.optional(u64),
        mask: s.optional(u64),
        values: s.optional(s.array(u64)),
        width: s.optional(s.literal([32, 64], '32 compares only the low word: use it for int arguments.')),
      }),
      'Conditions on the arguments, all of which must hold.',
    ),
  ),
})

const seccomp = s.object(
  {
    profile: s.optional(
      s.literal(['default', 'strict', 'none'], 'Built-in base profile (default: default).'),
    ),
    default: s.optional(seccompAction),
    rules: s.optional(s.array(seccompRule, 'Rules on top of the profile; the last matching rule wins.')),
  },
  { description: 'The syscall filter.' },
)

export const policySchema = s.object(
  {
    version: s.optional(s.literal([1], 'Policy format version.')),
    description: s.optional(s.string()),
    extends: s.optional(
      s.oneOrList(
        s.string({ expected: 'a profile name or a policy file' }),
        'Profiles or files this policy builds on, in order (one may be given without a list).',
      ),
    ),
    namespaces: s.optional(namespaces),
    user: s.optional(
      s.object(
        {
          uid: s.optional(id),
          gid: s.optional(id),
          hostRoot: s.optional(
            s.boolean(
              'true: a sandbox started by root keeps host root\u2019s file permissions (its uid 0 is the host\u2019s). ' +
                'Default false: root\u2019s sandboxes run as an unprivileged host id range (/etc/subuid `cordon` or `root`).',
            ),
          ),
        },
        { description: 'Identity inside the sandbox (default: the caller\u2019s).' },
      ),
    ),
    hostname: s.optional(
      s.string({
        check: (v) =>
          /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/.test(v) ? undefined : `\`${v}\` is not a valid hostname`,
      }),
    ),
    network: s.optional(
      s.literal(NETWORK_MODES, 'none: no interfaces up; loopback: only lo; host: the host\u2019s network.', {
        on: 'host',
        yes: 'host',
        true: 'host',
        enabled: 'host',
        full: 'host',
        bridge: 'host',
        off: 'none',
        no: 'none',
        false: 'none',
        disabled: 'none',
        lo: 'loopback',
        local: 'loopback',
        localhost: 'loopback',
      }),
    ),
    filesystem: s.optional(
      s.array(filesystemEntry, 'The filesystem view, built on an empty read-only root.'),
    ),
    env: s.optional(
      s.object(
        {
          pass: s.optional(s.array(envName, 'Variables copied from the caller\u2019s environment when set.')),
          set: s.optional(s.record(s.string(), envName, 'Variables set to fixed values.')),
        },
        {
          description: 'The environment starts empty.',
          // `env: [FOO=bar]` (a container's list) is the usual slip: show the form.
          expected: 'a mapping like `{ set: { FOO: bar }, pass: [HOME] }`',
        },
      ),
    ),
    cwd: s.optional(absolute('the working directory inside')),
    capabilities: s.optional(
      s.array(
        s.string({
          expected: 'a capability name like "net_bind_service"',
          check: (v) => {
            if (capabilityNumber(v) !== undefined) return undefined
            const hint = suggest(v.toLowerCase().replace(/^cap_/, ''), CAPABILITIES)
            return `unknown capability \`${v}\`${hint ? `; did you mean \`${hint}\`?` : ' (see capabilities(7))'}`
          },
        }),
        'Capabilities kept (none by default).',
      ),
    ),
    command: s.optional(s.array(s.string(), 'Default command, used by compiled plans when none is given.')),
    seccomp: s.optional(seccomp),
    limits: s.optional(
      s.object(
        {
          memory: s.optional(memory),
          swap: s.optional(size),
          pids: s.optional(
            s.either(
              s.integer({ min: 2, max: 4194304 }),
              s.literal(['max']),
              'Most processes and threads at once, or "max" for no limit (lifts an inherited one).',
            ),
          ),
          cpus: s.optional(
            s.string({
              expected: 'a number of CPUs like "1.5"',
              // The CFS quota's floor is 1 ms per 100 ms period: 0.01 of a CPU.
              check: (v) =>
                /^\d+(\.\d+)?$/.test(v) && Number(v) >= 0.01
                  ? undefined
                  : `expected a number of CPUs of at least 0.01, like "0.5" or "2", got \`${v}\``,
            }),
          ),
          'cpu-weight': s.optional(
            s.integer({ min: 1, max: 10000, description: 'Relative CPU weight (100 is the default).' }),
          ),
          'io-weight': s.optional(
            s.integer({
              min: 1,
              max: 10000,
              description:
                'Relative block I/O weight (100 is the default): cgroup v2 io.weight; on v1 the BFQ (or CFQ) blkio weight, capped at 1000, which only devices using that scheduler honour.',
            }),
          ),
          cpuset: s.optional(
            s.string({
              expected: 'CPUs like "0-1,3"',
              check: cpuListProblem,
            }),
          ),
          rlimits: s.optional(
            s.object(
              Object.fromEntries(
                ['cpu', 'fsize', 'data', 'stack', 'core', 'nproc', 'nofile', 'memlock', 'as'].map((r) => [
                  r,
                  s.optional(s.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
                ]),
              ) as Record<
                'cpu' | 'fsize' | 'data' | 'stack' | 'core' | 'nproc' | 'nofile' | 'memlock' | 'as',
                s.Optional<number>
              >,
              {
                description:
                  'setrlimit(2) limits, soft = hard (seconds for cpu, bytes for sizes, counts otherwise).',
              },
            ),
          ),
          require: s.optional(
            s.boolean(
              'Refuse to run when a limit cannot be enforced (no cgroup for this caller); by default the ' +
                'run goes on and says which limits are not enforced.',
            ),
          ),
          timeout: s.optional(
            s.string({
              expected: 'a duration like "30s"',
              // `--timeout 5` means seconds; a policy spells the unit out (a newcomer wrote 5).
              fixType: (v) =>
                typeof v === 'number' && v > 0
                  ? `write "${v}s" for ${v} seconds: a policy spells the unit out`
                  : undefined,
              check: (v) =>
                /^\d+(\.\d+)?(ms|s|m|h|d)$/.test(v) && Number.parseFloat(v) > 0
                  ? durationMs(v) > MAX_TIMER_MS
                    ? `\`${v}\` is longer than a timer can wait (24 days); leave the timeout out for none`
                    : undefined
                  : `expected a duration: a positive number with ms, s, m, h or d, like "30s" or "1.5h", got \`${v}\``,
            }),
          ),
        },
        {
          description:
            'Resources: cgroup limits (memory, pids, cpus, cpu-weight, io-weight, cpuset) and a wall-clock timeout.',
        },
      ),
    ),
    tcp: s.optional(
      s.object(
        {
          bind: s.optional(s.array(s.integer({ min: 0, max: 65535 }), 'TCP ports the sandbox may bind.')),
          connect: s.optional(
            s.array(s.integer({ min: 0, max: 65535 }), 'TCP ports the sandbox may connect to.'),
          ),
        },
        {
          description:
            `When present, only these TCP ports may be bound or connected to (Landlock ABI ${NET_ABI}+), and other ` +
            'IP sockets (UDP, raw, SCTP, MPTCP, packet) are refused by seccomp.',
        },
      ),
    ),
    landlock: s.optional(
      s.object(
        {
          require: s.optional(
            s.integer({ min: 1, max: MAX_ABI, description: 'Fail unless the kernel has at least this ABI.' }),
          ),
          scopes: s.optional(
            s.array(
              s.literal(['abstract-unix-socket', 'signal']),
              `Isolate from outside the sandbox (ABI ${SCOPE_ABI}+); both by default.`,
            ),
          ),
          paths: s.optional(
            s.array(
              s.object({
                path: absolute('as seen by the sandbox'),
                access,
                optional: s.optional(s.boolean()),
              }),
              'Landlock-only rules, for paths the view does not mount (or without namespaces).',
            ),
          ),
        },
        { description: 'Landlock settings: by default best effort, with every filesystem entry a rule.' },
      ),
    ),
    acknowledge: s.optional(
      s.array(
        s.literal(ACKNOWLEDGEMENTS),
        'Gaps this policy accepts, which otherwise make `cordon run` refuse it. no-view: without a ' +
          'mount namespace what only a view keeps out is reachable: every host pathname UNIX socket ' +
          `(docker.sock, D-Bus, other sandboxes\u2019; Landlock up to ABI ${MAX_ABI} has no right for connect()), the ` +
          'metadata of host files (chmod, chown, utimes, xattrs: no Landlock right either), and, without ' +
          'an IPC namespace, the host\u2019s SysV IPC objects; inotify watches anywhere. host-root: without a mount namespace a ' +
          'sandbox with `user.hostRoot` can change the host\u2019s device nodes and read the kernel\u2019s root-only tables. ' +
          `tcp-ports: no layer judges the \`tcp\` ports (a runtime backend, a kernel before Landlock ABI ${NET_ABI}). ` +
          'scopes: a runtime backend (no Landlock) in the host\u2019s network namespace reaches every host abstract ' +
          'socket, and without a pid namespace signals every process of its uid.',
      ),
    ),
  },
  { description: 'A cordon sandbox policy.' },
)

export type Policy = s.Infer<typeof policySchema>

/** Why a cpuset list ("0-1,3") is malformed, or undefined: the kernel's own list syntax, each
 * range ascending (cpuset.cpus refuses "5-3" with a bare EINVAL). */
function cpuListProblem(v: string): string | undefined {
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part)
    if (!m) return `\`${v}\` is not a CPU list: use numbers and ranges like "0-1,3"`
    if (m[2] !== undefined && Number(m[2]) < Number(m[1]))
      return `\`${part}\` in \`${v}\` is a descending range: write it low-high (${m[2]}-${m[1]})`
  }
  return undefined
}

/** Node's timers hold at most 2^31-1 ms; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v)!
  return Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd']
}
