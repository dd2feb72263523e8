// A systemd service unit with the policy's meaning in systemd's own sandboxing options, or —
// with `wrap` — a unit whose ExecStart is cordon-exec with the compiled plan, so every layer
// (Landlock included) survives reboots exactly as `cordon run` applies it. The unit is the same
// whatever host exports it: nothing here reads the exporting host's files, and it is written for
// systemd 252 (Debian 12) and later (SYSTEMD_FLOOR).
import { posix } from 'node:path'
import { CordonError } from '../errors.js'
import { nativePath } from '../host/launcher.js'
import { hiddenProgramHint } from '../run/not-found.js'
import { exportRlimits } from '../policy/effective.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { SYSTEMD_FLOOR } from '../seccomp/systemd.js'
import {
  type Bind,
  type Exported,
  type ExportFile,
  type ExportOptions,
  type Gap,
  keptCapabilities,
  landlockGap,
  masks,
  shellQuote,
  tmpfses,
} from './model.js'
import { systemdSeccomp } from './systemd-seccomp.js'

/** Standard top-level directories (FHS) the view does not show: hidden in every unit. Others a
 * given host has (say /data) stay visible read-only under ProtectSystem=strict: listed as a gap. */
const HIDDEN_TOPS = ['/boot', '/home', '/media', '/mnt', '/opt', '/root', '/srv', '/var']

/** Emptied in every unit, and the view's binds put back: /run holds the host's sockets (D-Bus,
 * the users' session buses under /run/user, container runtimes') and cordon's state, which
 * ProtectSystem=strict leaves connectable (a socket's connect ignores a read-only mount) and
 * systemd 252 even writable (helper-141). InaccessiblePaths= would also take the directory
 * itself, where cordon's view has none: an empty one is what a program there finds. */
const EMPTIED_TOPS = ['/run']

/** Directories PrivateTmp= replaces with the service's own. */
const PRIVATE_TMP = ['/tmp', '/var/tmp']

/** One word of a unit setting, as systemd.syntax(7) reads it back: `%` is a specifier (`%%`),
 * `$` an environment variable in ExecStart= (`$$`), and a value is one line, so newlines and
 * other control characters are C escapes inside double quotes. */
function unitWord(w: string, exec: boolean): string {
  let out = w.replace(/%/g, '%%')
  if (exec) out = out.replace(/\$/g, '$$$$')
  if (/^[\w@%+=:,./$-]+$/.test(out)) return out
  // eslint-disable-next-line no-control-regex -- control characters are what this escapes
  out = out.replace(/["\\]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' }
    return named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
  })
  return `"${out}"`
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`)

/** Hardening that holds for any ExecStart, cordon-exec included: it makes its own namespaces,
 * mounts and /proc, so nothing here may take those away. RestrictSUIDSGID= is not here: it
 * answers openat2 with ENOSYS, and cordon-exec opens bind sources with openat2. */
const WRAP_HARDENING = [
  'NoNewPrivileges=yes',
  'LockPersonality=yes',
  'RestrictRealtime=yes',
  'ProtectClock=yes',
  'ProtectKernelModules=yes',
  'SystemCallArchitectures=native',
]

/** cgroup limits and the timeout; memory as a share of the target's memory when given as one. */
function limitLines(policy: ResolvedPolicy): string[] {
  const lines: string[] = []
  const l = policy.limits
  if (l.memoryPercent !== undefined) lines.push(`MemoryMax=${l.memoryPercent}%`)
  else if (l.memory !== undefined) lines.push(`MemoryMax=${l.memory}`)
  if (l.swap !== undefined) lines.push(`MemorySwapMax=${l.swap}`)
  if (l.pids !== undefined) lines.push(`TasksMax=${l.pids}`)
  if (l.cpus !== undefined) lines.push(`CPUQuota=${Math.round(l.cpus * 100)}%`)
  if (l.cpuWeight !== undefined) lines.push(`CPUWeight=${l.cpuWeight}`)
  if (l.cpuset !== undefined) lines.push(`AllowedCPUs=${l.cpuset}`)
  if (l.ioWeight !== undefined) lines.push(`IOWeight=${l.ioWeight}`)
  if (l.timeoutMs !== undefined) lines.push(`RuntimeMaxSec=${Math.ceil(l.timeoutMs / 1000)}`)
  return lines
}

function wrappedUnit(
  policy: ResolvedPolicy,
  options: ExportOptions,
  head: string[],
  command: string,
  plan: Uint8Array,
): Exported {
  const planPath = `/etc/cordon/${options.name}.plan`
  const unit = [
    ...head,
    `ExecStart=/usr/local/bin/cordon-exec ${planPath} -- ${command}`,
    'KillMode=mixed',
    ...WRAP_HARDENING,
    ...limitLines(policy),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ]
  return {
    format: 'systemd',
    files: [
      { kind: 'file', path: `${options.name}.service`, content: `${unit.join('\n')}\n` },
      { kind: 'file', path: `${options.name}.plan`, content: plan },
    ],
    gaps: [],
    usage: [
      `install -D -m 0644 ${options.name}.plan ${planPath}`,
      `install -m 0644 ${options.name}.service /etc/systemd/system/ && systemctl daemon-reload && systemctl start ${options.name}`,
      // The unit names a fixed path: a root-owned copy of this build's launcher (static where the
      // toolchain has a static libc), which no project-local install or npm update changes.
      `install -m 0755 ${shellQuote(nativePath('cordon-exec'))} /usr/local/bin/cordon-exec   # the launcher ExecStart= runs`,
    ],
  }
}

/** The mount view: everything read-only, standard top-level directories the view does not show
 * hidden, the view's binds put back where a hidden directory or the private /tmp covers them. */
function filesystemLines(policy: ResolvedPolicy, gaps: Gap[]): string[] {
  const lines = ['ProtectSystem=strict', 'PrivateDevices=yes']
  // Every bind, present on this host or not: `-` makes an optional one optional on the target too.
  const view = policy.filesystem.filter((e): e is Bind => e.kind === 'bind')
  const tmps = tmpfses(policy)
  const privateTmp = tmps.some((t) => PRIVATE_TMP.includes(t.dest))
  const dests = [...view.map((b) => b.dest), ...tmps.map((t) => t.dest)]
  const covered: string[] = privateTmp ? [...PRIVATE_TMP] : []
  const inaccessible: string[] = []
  for (const dir of [...HIDDEN_TOPS, ...EMPTIED_TOPS]) {
    if (view.some((b) => b.dest === dir && b.src === dir)) continue
    if (EMPTIED_TOPS.includes(dir) || dests.some((d) => under(d, dir))) {
      lines.push(`TemporaryFileSystem=${dir}:ro`)
      covered.push(dir)
    } else inaccessible.push(`-${dir}`)
  }
  gaps.push({
    statement: 'filesystem: other top-level directories',
    why:
      `the unit hides ${HIDDEN_TOPS.join(', ')} wherever it runs; a host's own top-level directories ` +
      '(say /data) stay visible read-only under ProtectSystem=strict: add them to InaccessiblePaths=',
  })
  for (const b of view) {
    const spec = `${b.optional ? '-' : ''}${b.src === b.dest ? b.src : `${b.src}:${b.dest}`}`
    const rebind = b.src !== b.dest || covered.some((c) => under(b.dest, c) && b.dest !== c)
    if (b.readOnly) {
      if (rebind) lines.push(`BindReadOnlyPaths=${spec}`)
    } else lines.push(rebind ? `BindPaths=${spec}` : `ReadWritePaths=${b.optional ? '-' : ''}${b.src}`)
  }
  const writable = view.filter((b) => !b.readOnly)
  if (writable.length && policy.user.uid === undefined)
    gaps.push({
      statement: `writable ${writable.map((b) => b.dest).join(', ')}`,
      why:
        'DynamicUser= runs the service as a fresh uid, which may write only what any user may: ' +
        'export with --uid OWNER (User=) to write as the files’ owner',
    })
  for (const t of tmps) {
    if (PRIVATE_TMP.includes(t.dest)) continue
    lines.push(
      `TemporaryFileSystem=${t.dest}:mode=${t.mode.toString(8)}${t.size ? `,size=${t.size}` : ''}${t.exec === false ? ',noexec' : ''}`,
    )
  }
  if (privateTmp) lines.push('PrivateTmp=yes')
  // PrivateDevices= binds the host's /dev/shm (writable, executable, shared with the host's
  // programs), /dev/mqueue and /dev/hugepages into its /dev (helper-141). cordon's /dev has a
  // private shm, noexec, and neither of the others.
  lines.push('TemporaryFileSystem=/dev/shm:mode=1777,nosuid,nodev,noexec')
  const devHidden = ['-/dev/mqueue', '-/dev/hugepages']
  const noexec = tmps.filter((t) => t.exec === false && PRIVATE_TMP.includes(t.dest))
  if (noexec.length) lines.push(`NoExecPaths=${noexec.map((t) => t.dest).join(' ')}`)
  const hidden = [...inaccessible, ...devHidden, ...masks(policy).map((m) => `-${m}`)]
  if (hidden.length) lines.push(`InaccessiblePaths=${hidden.join(' ')}`)
  if (!policy.filesystem.some((e) => e.kind === 'proc'))
    gaps.push({ statement: 'no /proc', why: 'a systemd service always has /proc' })
  return lines
}

/** Namespaces, identity and network. */
function isolationLines(policy: ResolvedPolicy, gaps: Gap[]): string[] {
  const lines: string[] = []
  const uid = policy.user.uid
  if (uid === undefined) lines.push('DynamicUser=yes')
  else lines.push(`User=${uid}`, `Group=${policy.user.gid ?? uid}`)
  if (uid === 0)
    gaps.push({
      statement: 'identity uid 0',
      why:
        'User=0 is host root, with host root’s file powers (PrivateUsers= maps root to itself); ' +
        'cordon’s own run maps a root sandbox to an unprivileged id range: export with another --uid',
    })
  const caps = keptCapabilities(policy)
  lines.push(`CapabilityBoundingSet=${caps.join(' ')}`, `AmbientCapabilities=${caps.join(' ')}`)
  lines.push(
    ...WRAP_HARDENING.filter((l) => !l.startsWith('SystemCallArchitectures=')),
    'RestrictSUIDSGID=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelLogs=yes',
    'ProtectProc=invisible',
  )
  const ns = policy.namespaces
  if (ns.user) lines.push('PrivateUsers=yes')
  if (ns.ipc) lines.push('PrivateIPC=yes')
  if (ns.uts) lines.push('ProtectHostname=yes')
  if (ns.cgroup) lines.push('ProtectControlGroups=yes')
  if (ns.pid)
    gaps.push({
      statement: 'pid namespace',
      why: 'PrivatePIDs= needs systemd 257; ProtectProc=invisible hides other users’ processes, not the caller’s',
    })
  if (ns.uts && policy.hostname !== undefined)
    gaps.push({
      statement: `hostname ${policy.hostname}`,
      why: 'systemd keeps the host name (ProtectHostname= only freezes it)',
    })
  if (policy.network !== 'host') lines.push('PrivateNetwork=yes')
  else if (policy.landlock.scopes.includes('abstract-unix-socket'))
    gaps.push({
      statement: 'scope abstract-unix-socket',
      why: 'the host’s network and no Landlock: every host abstract socket (X11, D-Bus) connects; --wrap keeps the scope',
    })
  if (policy.network === 'none') {
    lines.push('IPAddressDeny=any')
    gaps.push({
      statement: 'network none',
      why:
        'PrivateNetwork= brings loopback up (cordon leaves it down); IPAddressDeny=any refuses IP on it only ' +
        'where systemd’s cgroup BPF firewall works (a unified cgroup hierarchy)',
    })
  }
  if (policy.tcp) {
    for (const p of policy.tcp.bind) lines.push(`SocketBindAllow=tcp:${p}`)
    lines.push('SocketBindDeny=any')
    gaps.push({
      statement: `tcp connect ports${policy.tcp.connect.length ? ` ${policy.tcp.connect.join(', ')}` : ''}`,
      why:
        'systemd cannot restrict the ports a service connects to (IPAddressDeny= filters addresses); ' +
        'SocketBindAllow=/SocketBindDeny= restrict bind() only where systemd was built with its BPF framework',
    })
  }
  return lines
}

export function exportSystemd(policy: ResolvedPolicy, options: ExportOptions, plan?: Uint8Array): Exported {
  const cwd = policy.cwd ?? options.cwd
  // systemd takes a bare name (looked up in its own path) or an absolute path, and refuses the
  // unit for `./script.sh`: made absolute from the working directory, as the sandbox found it.
  const [program, ...args] = options.command
  const exec =
    program !== undefined && program.includes('/') && !posix.isAbsolute(program) && !plan
      ? [posix.resolve(cwd, program), ...args]
      : options.command
  // A unit whose program the view hides fails only when it starts, where `cordon run` refuses
  // at once and says what to add: so does the export (helper-130: `--profile minimal -- ./x.sh`).
  const hidden = program !== undefined && !plan ? hiddenProgramHint(policy, program, cwd) : undefined
  if (hidden) throw new CordonError('invalid_usage', `the unit would not start: ${hidden}`)
  // The program's own path takes `$` as it is: systemd expands variables in the arguments only
  // (helper-130: `100%$x.sh` written `$$` was not found). The launcher's command is arguments.
  const command = exec.map((w, i) => unitWord(w, i > 0 || plan !== undefined)).join(' ')
  const head = [
    '[Unit]',
    `Description=${options.name} (cordon: ${policy.sources.join(' → ')})`,
    `# Written for systemd ${SYSTEMD_FLOOR.systemd} (libseccomp ${SYSTEMD_FLOOR.libseccomp}) or later.`,
    '',
    '[Service]',
  ]
  if (plan) return wrappedUnit(policy, options, head, command, plan)
  const gaps: Gap[] = []
  const lines = [`ExecStart=${command}`, ...isolationLines(policy, gaps), ...filesystemLines(policy, gaps)]
  // PrivateTmp= gives the service a new /tmp: the working directory is in it only when the view
  // binds it there (filesystemLines puts such binds back on top of the private /tmp).
  const view = policy.filesystem.filter((e): e is Bind => e.kind === 'bind')
  if (view.some((b) => under(cwd, b.dest))) lines.push(`WorkingDirectory=${cwd}`)
  for (const [k, v] of Object.entries(policy.env.set))
    lines.push(`Environment=${unitWord(`${k}=${v}`, false)}`)
  const pass = policy.env.pass.filter((k) => !(k in policy.env.set))
  if (pass.length) lines.push(`PassEnvironment=${pass.join(' ')}`)
  const seccomp = systemdSeccomp(policy, options.arch)
  lines.push(...seccomp.lines, ...limitLines(policy))
  gaps.push(...seccomp.gaps)
  for (const [r, v] of Object.entries(exportRlimits(policy))) lines.push(`Limit${r.toUpperCase()}=${v}`)
  gaps.push(...landlockGap(policy, `systemd ${SYSTEMD_FLOOR.systemd}`, '--wrap'))
  const unit = [...head, ...lines, '', '[Install]', 'WantedBy=multi-user.target']
  const files: ExportFile[] = [
    { kind: 'file', path: `${options.name}.service`, content: `${unit.join('\n')}\n` },
  ]
  return {
    format: 'systemd',
    files,
    gaps,
    usage: [
      `install -m 0644 ${options.name}.service /etc/systemd/system/ && systemctl daemon-reload`,
      `systemd-analyze security ${options.name}.service   (systemd's own exposure score)`,
      `or --wrap: ExecStart=cordon-exec with the compiled plan, every cordon layer included`,
    ],
  }
}
