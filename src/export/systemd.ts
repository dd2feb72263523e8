// A systemd service unit with the policy's meaning in systemd's own sandboxing options (systemd
// 252, Debian 12), or — with `wrap` — a unit whose ExecStart is cordon-exec with the compiled
// plan, so every layer (Landlock included) survives reboots exactly as `cordon run` applies it.
import { readdirSync } from 'node:fs'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { leafFor } from '../seccomp/compile.js'
import { entryPoints } from '../seccomp/arch.js'
import { errnoName, resolveSeccomp } from '../seccomp/resolve.js'
import { enforcedSeccompLayers } from '../plan/compile.js'
import {
  binds,
  type Exported,
  type ExportFile,
  type ExportOptions,
  type Gap,
  keptCapabilities,
  landlockGap,
  masks,
  tmpfses,
} from './model.js'

/** Host top-level directories the unit keeps as systemd sets them up. */
const KEPT_TOP = new Set(['proc', 'sys', 'dev', 'run', 'tmp'])

/** systemd quotes a value with spaces in double quotes, backslash-escaping. */
const unitWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `"${w.replace(/(["\\])/g, '\\$1')}"`)

/** SystemCallFilter= and friends from the resolved filter: systemd filters by name only. */
function syscallLines(policy: ResolvedPolicy, arch: string, gaps: Gap[]): string[] {
  const spec = resolveSeccomp(enforcedSeccompLayers(policy))
  const names = [...new Set(entryPoints(arch).flatMap((a) => Object.keys(a.table)))].sort()
  const allowByDefault = spec.defaultAction.kind === 'allow'
  const conditional: string[] = []
  const out: string[] = ['SystemCallArchitectures=native']
  const listed: string[] = []
  let killed = false
  for (const name of names) {
    const leaf = leafFor(spec, name)
    if (leaf.checks.length) conditional.push(name)
    const a = leaf.fallback
    if (allowByDefault) {
      if (a.kind === 'errno' || a.kind === 'deny-log') listed.push(`${name}:${errnoName(a.errno)}`)
      else if (a.kind === 'kill-process' || a.kind === 'kill-thread' || a.kind === 'trap') {
        listed.push(name)
        killed = true
      }
    } else if (a.kind === 'allow' || a.kind === 'log' || a.kind === 'notify' || a.kind === 'trace')
      listed.push(name)
  }
  if (allowByDefault) {
    if (listed.length) out.push(`SystemCallFilter=~${listed.join(' ')}`)
    gaps.push({
      statement: 'seccomp denylist',
      why:
        'systemd ignores names its libseccomp does not know (it says so in `systemd-analyze verify`), ' +
        'and those calls then pass: an allowlist policy (`cordon learn`) has no such gap',
    })
    out.push('SystemCallErrorNumber=EPERM')
    if (killed)
      gaps.push({
        statement: 'seccomp kill actions',
        why: 'a denylist unit refuses them with EPERM instead of killing',
      })
  } else {
    out.push(`SystemCallFilter=${listed.join(' ')}`)
    const d = spec.defaultAction
    if (d.kind === 'errno' || d.kind === 'deny-log') out.push(`SystemCallErrorNumber=${errnoName(d.errno)}`)
  }
  const nsFlags = ['clone', 'clone3', 'unshare', 'setns'].filter((n) => conditional.includes(n))
  if (nsFlags.length) out.push('RestrictNamespaces=yes')
  const rest = conditional.filter((n) => !nsFlags.includes(n) && n !== 'personality') // LockPersonality=yes
  if (rest.length)
    gaps.push({
      statement: `seccomp argument checks on ${rest.join(', ')}`,
      why: `systemd filters by name only: each is ${allowByDefault ? 'allowed' : 'refused'} whatever its arguments${
        nsFlags.length ? ' (namespace flags of clone/unshare/setns: RestrictNamespaces=yes)' : ''
      }`,
    })
  return out
}

export function exportSystemd(policy: ResolvedPolicy, options: ExportOptions, plan?: Uint8Array): Exported {
  const gaps: Gap[] = []
  const command = options.command.map(unitWord).join(' ')
  const head = [
    '[Unit]',
    `Description=${options.name} (cordon: ${policy.sources.join(' → ')})`,
    '',
    '[Service]',
  ]
  if (plan) {
    const planPath = `/etc/cordon/${options.name}.plan`
    const unit = [
      ...head,
      `ExecStart=/usr/local/bin/cordon-exec ${planPath} -- ${command}`,
      'KillMode=mixed',
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
      gaps:
        policy.limits.memory !== undefined || policy.limits.pids !== undefined
          ? [
              {
                statement: 'limits',
                why: 'cordon-exec plans carry no cgroup: add MemoryMax=/TasksMax= to the unit',
              },
            ]
          : [],
      usage: [
        `install -D -m 0644 ${options.name}.plan ${planPath}`,
        `install -m 0644 ${options.name}.service /etc/systemd/system/ && systemctl daemon-reload && systemctl start ${options.name}`,
        'cordon-exec must be at /usr/local/bin/cordon-exec (npm prefix -g)/bin, or edit ExecStart=',
      ],
    }
  }
  const lines: string[] = [`ExecStart=${command}`]
  const uid = policy.user.uid
  if (uid === undefined) lines.push('DynamicUser=yes')
  else lines.push(`User=${uid}`, `Group=${policy.user.gid ?? uid}`)
  const caps = keptCapabilities(policy)
  lines.push(`CapabilityBoundingSet=${caps.join(' ')}`, `AmbientCapabilities=${caps.join(' ')}`)
  lines.push(
    'NoNewPrivileges=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RestrictRealtime=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectClock=yes',
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
  if (policy.network === 'none')
    gaps.push({
      statement: 'network none',
      why: 'PrivateNetwork= brings loopback up (cordon leaves it down)',
    })
  if (policy.tcp) {
    lines.push('RestrictAddressFamilies=~AF_PACKET')
    gaps.push({
      statement: 'tcp ports',
      why: 'systemd cannot restrict ports (SocketBindAllow= covers bind only, with cgroup BPF)',
    })
  }
  // Filesystem: everything read-only, the host's top-level directories the view does not show
  // hidden under empty read-only tmpfs, the view's own binds put back on top.
  lines.push('ProtectSystem=strict', 'PrivateDevices=yes')
  const view = binds(policy)
  const shown = new Set(view.filter((b) => b.src === b.dest).map((b) => b.dest))
  let top: string[] = []
  try {
    top = readdirSync('/', { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.isSymbolicLink() && !KEPT_TOP.has(d.name))
      .map((d) => `/${d.name}`)
  } catch {
    /* no listing: nothing hidden beyond ProtectSystem */
  }
  const hiddenTops = top.filter((d) => !shown.has(d))
  for (const dir of hiddenTops) lines.push(`TemporaryFileSystem=${dir}:ro`)
  for (const b of view) {
    // Under a hidden directory a bind puts the path back; elsewhere ProtectSystem=strict
    // already shows it read-only.
    const underHidden = hiddenTops.some((h) => b.dest.startsWith(`${h}/`))
    const spec = b.src === b.dest ? b.src : `${b.src}:${b.dest}`
    if (b.readOnly && (underHidden || b.src !== b.dest)) lines.push(`BindReadOnlyPaths=${spec}`)
    else if (!b.readOnly)
      lines.push(underHidden || b.src !== b.dest ? `BindPaths=${spec}` : `ReadWritePaths=${b.src}`)
  }
  for (const t of tmpfses(policy)) {
    if (t.dest === '/tmp' || t.dest === '/var/tmp') continue
    lines.push(
      `TemporaryFileSystem=${t.dest}:mode=${t.mode.toString(8)}${t.size ? `,size=${t.size}` : ''}${t.exec === false ? ',noexec' : ''}`,
    )
  }
  if (tmpfses(policy).some((t) => t.dest === '/tmp' || t.dest === '/var/tmp')) lines.push('PrivateTmp=yes')
  const noexec = tmpfses(policy).filter(
    (t) => t.exec === false && (t.dest === '/tmp' || t.dest === '/var/tmp'),
  )
  if (noexec.length) lines.push(`NoExecPaths=${noexec.map((t) => t.dest).join(' ')}`)
  const hidden = masks(policy)
  if (hidden.length) lines.push(`InaccessiblePaths=${hidden.map((m) => `-${m}`).join(' ')}`)
  if (!policy.filesystem.some((e) => e.kind === 'proc'))
    gaps.push({ statement: 'no /proc', why: 'a systemd service always has /proc' })
  const cwd = policy.cwd ?? options.cwd
  if (view.some((b) => cwd === b.dest || cwd.startsWith(`${b.dest}/`))) lines.push(`WorkingDirectory=${cwd}`)
  for (const [k, v] of Object.entries(policy.env.set)) lines.push(`Environment=${unitWord(`${k}=${v}`)}`)
  const pass = policy.env.pass.filter((k) => !(k in policy.env.set))
  if (pass.length) lines.push(`PassEnvironment=${pass.join(' ')}`)
  lines.push(...syscallLines(policy, options.arch, gaps))
  const l = policy.limits
  if (l.memory !== undefined) lines.push(`MemoryMax=${l.memory}`)
  if (l.swap !== undefined) lines.push(`MemorySwapMax=${l.swap}`)
  if (l.pids !== undefined) lines.push(`TasksMax=${l.pids}`)
  if (l.cpus !== undefined) lines.push(`CPUQuota=${Math.round(l.cpus * 100)}%`)
  if (l.cpuWeight !== undefined) lines.push(`CPUWeight=${l.cpuWeight}`)
  if (l.cpuset !== undefined) lines.push(`AllowedCPUs=${l.cpuset}`)
  if (l.ioWeight !== undefined) lines.push(`IOWeight=${l.ioWeight}`)
  if (l.timeoutMs !== undefined) lines.push(`RuntimeMaxSec=${Math.ceil(l.timeoutMs / 1000)}`)
  for (const [r, v] of Object.entries(policy.rlimits)) lines.push(`Limit${r.toUpperCase()}=${v}`)
  gaps.push(...landlockGap(policy, 'systemd 252', '--wrap'))
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
