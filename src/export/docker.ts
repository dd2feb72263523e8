// `docker run` flags with the policy's meaning, plus the seccomp profile file they name. The
// image provides the system directories and /etc, so binds of those (and masks of host secrets
// in them) have nothing to say in a container; every other bind is a volume.
import { blkioWeight, cpuShares } from '../cgroup/v1.js'
import { exportRlimits } from '../policy/effective.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { stringifyOci } from '../seccomp/oci.js'
import {
  dataBinds,
  exportCwd,
  type Exported,
  type ExportOptions,
  exportIdentity,
  type Gap,
  isDirectory,
  isSystemPath,
  keptCapabilities,
  landlockGap,
  masks,
  seccompProfile,
  shellQuote,
  tmpfses,
} from './model.js'

export function exportDocker(policy: ResolvedPolicy, options: ExportOptions): Exported {
  const gaps: Gap[] = []
  const seccompFile = `${options.name}.seccomp.json`
  const seccomp = seccompProfile(policy, options.arch)
  gaps.push(...seccomp.gaps, ...landlockGap(policy, 'Docker'))
  // --init: a pid 1 that forwards signals and reaps, as cordon's own init does (a command
  // as pid 1 would ignore SIGINT and SIGTERM); -i: stdin reaches the command, as with cordon run.
  const flags: string[][] = [['--rm'], ['--init'], ['-i'], ['--cap-drop', 'ALL']]
  for (const cap of keptCapabilities(policy)) flags.push(['--cap-add', cap.replace(/^CAP_/, '')])
  flags.push(['--security-opt', 'no-new-privileges'])
  flags.push(['--read-only'])
  for (const t of tmpfses(policy)) {
    const opts = ['rw', 'nosuid', 'nodev', t.exec === false ? 'noexec' : 'exec', `mode=${t.mode.toString(8)}`]
    if (t.size) opts.push(`size=${t.size}`)
    flags.push(['--tmpfs', `${t.dest}:${opts.join(',')}`])
  }
  for (const b of dataBinds(policy))
    flags.push(['--volume', `${b.src}:${b.dest}:${b.readOnly ? 'ro' : 'rw'}`])
  for (const m of masks(policy)) {
    if (isSystemPath(m)) continue // the image's /etc has no host secrets
    flags.push(
      isDirectory(m)
        ? ['--mount', `type=tmpfs,destination=${m},tmpfs-mode=0`]
        : ['--volume', `/dev/null:${m}:ro`],
    )
  }
  if (policy.network === 'host') flags.push(['--network', 'host'])
  else flags.push(['--network', 'none']) // only `lo`, which is up: cordon's loopback
  if (policy.network === 'none')
    gaps.push({
      statement: 'network none',
      why: 'Docker’s `none` network still has a loopback interface that is up (cordon leaves it down)',
    })
  if (policy.tcp)
    gaps.push({
      statement: `tcp bind [${policy.tcp.bind.join(' ')}] connect [${policy.tcp.connect.join(' ')}]`,
      why: 'Docker has no per-port rules (only Landlock has them); the seccomp TCP-only rule is in the profile',
    })
  if (policy.namespaces.ipc) flags.push(['--ipc', 'private'])
  if (!policy.namespaces.pid) flags.push(['--pid', 'host'])
  if (!policy.namespaces.uts) flags.push(['--uts', 'host'])
  else if (policy.hostname !== undefined) flags.push(['--hostname', policy.hostname])
  if (policy.namespaces.cgroup) flags.push(['--cgroupns', 'private'])
  if (policy.namespaces.user)
    gaps.push({
      statement: 'user namespace',
      why: 'per-container user namespaces need the daemon’s `userns-remap` (or rootless Docker); `--user` below sets the identity',
    })
  const { uid, gid } = exportIdentity(policy, options)
  flags.push(['--user', `${uid}:${gid}`])
  // As the OCI bundle's export says it (helper-138: only the userns note above hinted at it).
  if (uid === 0 && policy.namespaces.user)
    gaps.push({
      statement: 'identity',
      why:
        "the container's root is host root: cordon's own run maps a root caller's sandbox to an unprivileged " +
        'host id range; without the daemon’s `userns-remap` (or rootless Docker) this container reads and ' +
        'writes bound host files as host root. Export with --uid N for another identity, or enable userns-remap',
    })
  const l = policy.limits
  if (l.pids !== undefined) flags.push(['--pids-limit', String(l.pids)])
  if (l.memory !== undefined) {
    flags.push(['--memory', `${l.memory}b`])
    flags.push(['--memory-swap', `${l.memory + (l.swap ?? 0)}b`])
    // docker run takes bytes only: a share of the host ("50%", the default profile's) is this
    // host's, written in bytes, and said so (helper-116), as the Kubernetes export says it.
    const percent = l.memoryPercent
    if (percent !== undefined)
      gaps.push({
        statement: `limits.memory ${percent}%`,
        why: `docker run takes bytes: ${percent}% of the exporting host's memory is written as --memory ${l.memory}b; on another host, change it (or export there)`,
      })
  }
  if (l.cpus !== undefined) flags.push(['--cpus', String(l.cpus)])
  if (l.cpuWeight !== undefined) flags.push(['--cpu-shares', String(cpuShares(l.cpuWeight))])
  if (l.cpuset !== undefined) flags.push(['--cpuset-cpus', l.cpuset])
  if (l.ioWeight !== undefined) flags.push(['--blkio-weight', String(blkioWeight(l.ioWeight))])
  if (l.timeoutMs !== undefined)
    gaps.push({
      statement: 'limits.timeout',
      why: 'docker run has no wall-clock limit: use `timeout` around it',
    })
  for (const [r, v] of Object.entries(exportRlimits(policy))) flags.push(['--ulimit', `${r}=${v}:${v}`])
  for (const [k, v] of Object.entries(policy.env.set)) flags.push(['--env', `${k}=${v}`])
  for (const k of policy.env.pass) if (!(k in policy.env.set)) flags.push(['--env', k])
  const cwd = exportCwd(policy, options)
  if (cwd !== undefined) flags.push(['--workdir', cwd])
  const lines = [
    '#!/bin/sh',
    `# cordon export --to docker: ${policy.sources.join(' → ')}`,
    '# Runs from any directory: the seccomp profile is the one beside this script. IMAGE picks the',
    '# image; arguments given to the script are added to the command.',
    'here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd) || exit 125',
    `exec docker run \\`,
    ...flags.map((f) => `  ${f.map(shellQuote).join(' ')} \\`),
    `  --security-opt "seccomp=$here/${seccompFile}" \\`,
    `  "\${IMAGE:-${options.image}}" ${options.command.map(shellQuote).join(' ')} "$@"`,
  ]
  return {
    format: 'docker',
    files: [
      { kind: 'file', path: `${options.name}.docker.sh`, content: `${lines.join('\n')}\n`, mode: 0o755 },
      { kind: 'file', path: seccompFile, content: `${stringifyOci(seccomp.profile)}\n` },
    ],
    gaps,
    usage: [`IMAGE=your/image DIR/${options.name}.docker.sh [ARG...]`],
  }
}
