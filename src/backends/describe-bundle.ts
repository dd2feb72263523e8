// A runtime backend's bundle in words, for `cordon plan --backend runc|gvisor`: under a runtime
// the launcher's operations are not what runs, the config.json the runtime is given is.
import { constants } from 'node:os'
import type { ExportFile } from '../export/model.js'
import type { OciConfig } from '../export/oci-bundle.js'
import { RUNTIMES, type RuntimeBackend } from './runtime.js'

const MIB = 1024 * 1024

/** The bundle's config, one line per mount and a line per other layer. */
export function describeBundle(
  config: OciConfig,
  files: readonly ExportFile[],
  backend: RuntimeBackend,
): string {
  const p = config.process
  // The bundle's rootfs holds what the view makes that is not a mount (the /bin links, `mkdir:`).
  const names = files
    .filter((f) => f.path.startsWith('rootfs/'))
    .map(
      (f) =>
        `${f.path.slice('rootfs'.length)}${f.kind === 'symlink' ? ` -> ${f.target}` : f.kind === 'dir' ? '/' : ''}`,
    )
  const lines = [
    `${RUNTIMES[backend].title} runs this policy as an OCI bundle made for each run, for this caller ` +
      '(`cordon export oci` writes one to keep):',
    `  namespaces    ${config.linux.namespaces.map((n) => n.type).join(' ') || 'none'}`,
    `  ids           ${idsLine(config)}`,
    `  root          the bundle's directory${config.root.readonly ? ', read-only' : ''}${names.length ? `, holding ${names.join(', ')}` : ''}`,
    '  mounts',
    ...config.mounts.map((m) => `    ${mountLine(m)}`),
  ]
  if (config.linux.maskedPaths.length)
    lines.push(
      `  masked        ${config.linux.maskedPaths.length} paths (/proc's as natively, /sys/firmware)`,
    )
  const caps = p.capabilities.bounding
  lines.push(
    `  capabilities  ${caps.length ? caps.map((c) => c.replace(/^CAP_/, '').toLowerCase()).join(' ') : 'none'}`,
    `  no_new_privs  ${p.noNewPrivileges ? 'yes' : 'no'}`,
    `  seccomp       ${seccompLine(config)}`,
  )
  if (p.rlimits?.length)
    lines.push(
      `  rlimits       ${p.rlimits.map((r) => `${r.type.replace(/^RLIMIT_/, '').toLowerCase()} ${r.hard}`).join(', ')}`,
    )
  lines.push(`  cgroup        ${resourcesLine(config.linux.resources)}`)
  lines.push(`  command       ${p.args.join(' ')} (as ${p.user.uid}:${p.user.gid}, in ${p.cwd})`)
  return lines.join('\n')
}

function idsLine(config: OciConfig): string {
  const map = config.linux.uidMappings?.[0]
  if (!map) return 'host ids, unmapped (no user namespace)'
  const range =
    map.size === 1 ? `host uid ${map.hostID}` : `host uids ${map.hostID}–${map.hostID + map.size - 1}`
  return `uid ${map.containerID}${map.size === 1 ? '' : `–${map.containerID + map.size - 1}`} → ${range}`
}

function mountLine(m: OciConfig['mounts'][number]): string {
  const options = m.options?.filter((o) => o !== 'bind' && o !== 'rbind') ?? []
  const what =
    m.type === 'bind' || m.options?.includes('bind') || m.options?.includes('rbind')
      ? `bind ${m.source}`
      : m.type
  // oci-bundle.ts modeUnder: what runc sees under a tmpfs, to give the tmpfs its mode.
  const why = m.source.startsWith('modes/') ? ', under the tmpfs: runc gives a tmpfs the mode it finds' : ''
  return `${m.destination.padEnd(20)} ${what}${options.length || why ? ` (${options.join(',')}${why})` : ''}`
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]))

/** An action as a person reads it: the errno's name, not its number. */
function actionWord(action: string, errno?: number): string {
  const word = action.replace(/^SCMP_ACT_/, '').toLowerCase()
  if (word === 'errno') return `fail with ${ERRNO_NAMES.get(errno ?? 1) ?? `errno ${errno}`}`
  if (word === 'allow') return 'allowed'
  return word.replace('_', ' ')
}

/** Calls by what their rules do (a call whose rules judge its arguments counts once per action). */
function seccompLine(config: OciConfig): string {
  const s = config.linux.seccomp
  if (!s) return 'none'
  const byAction = new Map<string, Set<string>>()
  for (const rule of s.syscalls ?? []) {
    const word = actionWord(rule.action, rule.errnoRet)
    const calls = byAction.get(word) ?? new Set<string>()
    for (const name of rule.names) calls.add(name)
    byAction.set(word, calls)
  }
  const counts = [...byAction].map(([word, calls]) => `${calls.size} ${word}`)
  return `calls by rule: ${counts.join(', ')}; the rest ${actionWord(s.defaultAction, s.defaultErrnoRet)}`
}

function resourcesLine(resources: Record<string, unknown> | undefined): string {
  if (!resources) return 'none (no cgroup this caller can use: limits are rlimits only)'
  const parts: string[] = []
  const memory = resources.memory as { limit?: number } | undefined
  if (memory?.limit !== undefined) parts.push(`memory ${Math.round(memory.limit / MIB)} MiB`)
  const pids = resources.pids as { limit?: number } | undefined
  if (pids?.limit !== undefined) parts.push(`pids ${pids.limit}`)
  const cpu = resources.cpu as { quota?: number; period?: number } | undefined
  if (cpu?.quota !== undefined && cpu.period) parts.push(`cpus ${(cpu.quota / cpu.period).toFixed(2)}`)
  return parts.join(', ') || 'a group of its own, no limits'
}
