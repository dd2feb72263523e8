// systemd's SystemCallFilter= (and SystemCallErrorNumber=) as a cordon seccomp layer, with
// systemd's semantics (systemd.exec(5)): the first non-empty assignment decides allow-list or
// deny-list (`~`), later ones add to or take from that set, an empty one resets; an allow-list
// always includes @default; `name:ERRNO` gives a denied call its own errno; without
// SystemCallErrorNumber= a denied call kills the process. Groups are systemd's own, expanded
// by `systemd-analyze syscall-filter` when it is installed (cordon's groups of the same name
// otherwise, reported: their members differ).
import { constants } from 'node:os'
import { knownSyscallNames } from './arch.js'
import { GROUPS } from './groups.js'
import type { RawRule } from './profiles.js'
import type { SeccompLayer } from './resolve.js'
import { childProcess } from '../builtin.js'

export interface SystemdImport {
  layer: SeccompLayer
  /** Names no cordon table knows (newer than cordon, or another OS's), left out. */
  unknown: string[]
  /** What the import could not carry over exactly. */
  notes: string[]
}

/** Members of a systemd group, nested groups expanded; undefined when systemd does not know it. */
export type GroupExpander = (group: string) => string[] | undefined

export function systemdGroups(): GroupExpander | undefined {
  const probe = childProcess().spawnSync('systemd-analyze', ['syscall-filter', '--no-pager'], {
    encoding: 'utf8',
  })
  if (probe.status !== 0) return undefined
  const groups = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of probe.stdout.split('\n')) {
    if (/^@[\w-]+$/.test(line)) groups.set(line, (current = []))
    else if (current && /^\s+@?[\w-]+$/.test(line)) current.push(line.trim())
  }
  const expand = (group: string, seen: Set<string>): string[] | undefined => {
    const members = groups.get(group)
    if (!members) return undefined
    seen.add(group)
    return members.flatMap((m) => (m.startsWith('@') ? (seen.has(m) ? [] : (expand(m, seen) ?? [])) : [m]))
  }
  return (group) => expand(group, new Set())
}

const ERRNO = /^(E[A-Z0-9]+|\d+)$/

/** `text`: a unit file, its [Service] lines, or bare SystemCallFilter values one per line. */
export function importSystemd(
  text: string,
  expand: GroupExpander | undefined = systemdGroups(),
  origin = 'systemd unit',
): SystemdImport {
  const notes: string[] = []
  const unknownNames = new Set<string>()
  const known = knownSyscallNames()
  let allowList: boolean | undefined
  const set = new Map<string, string | undefined>() // name → its own errno (deny-list entries)
  let errno: string | undefined
  const members = (item: string): string[] => {
    if (!item.startsWith('@')) return [item]
    const fromSystemd = expand?.(item)
    if (fromSystemd) return fromSystemd
    const ours = GROUPS[item]
    if (!ours) throw new Error(`unknown syscall group ${item}`)
    notes.push(
      `${item}: systemd-analyze is not installed, cordon's group of that name was used (members differ)`,
    )
    return [...ours.members]
  }
  const values: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue
    const m = /^(\w+)\s*=\s*(.*)$/.exec(line)
    if (!m) {
      values.push(line) // a bare value
      continue
    }
    const [, key, value] = m as unknown as [string, string, string]
    if (key === 'SystemCallFilter') values.push(value)
    else if (key === 'SystemCallErrorNumber') errno = value.trim() || undefined
    else if (key === 'SystemCallArchitectures' && value.trim() && value.trim() !== 'native')
      notes.push(
        `SystemCallArchitectures=${value.trim()}: cordon's filter allows the native arch (and its compat entry) only`,
      )
  }
  if (!values.length) throw new Error('no SystemCallFilter= found')
  for (const value of values) {
    if (value.trim() === '') {
      allowList = undefined
      set.clear()
      continue
    }
    const deny = value.trimStart().startsWith('~')
    allowList ??= !deny
    const items = value.trim().replace(/^~/, '').split(/\s+/).filter(Boolean)
    for (const item of items) {
      const [name, own, ...more] = item.split(':') as [string, string | undefined]
      if (more.length || (own !== undefined && !ERRNO.test(own) && own !== 'kill'))
        throw new Error(`${item}: the part after ':' must be an errno name or number, e.g. ${name}:EPERM`)
      if (own !== undefined && /^E/.test(own) && !(own in constants.errno))
        throw new Error(`${item}: unknown errno ${own} (use a name like EPERM or a number)`)
      // An allow-list adds what is allowed and takes the `~` entries away; a deny-list the reverse.
      const adding = allowList === !deny
      for (const call of members(name)) {
        if (!known.has(call)) {
          unknownNames.add(call)
          continue
        }
        if (adding) set.set(call, own)
        else set.delete(call)
      }
    }
  }
  if (allowList === undefined) throw new Error('SystemCallFilter= was reset and never set again')
  if (allowList) for (const call of members('@default')) if (known.has(call)) set.set(call, undefined)
  const denied = errno === undefined || errno === 'kill' ? 'kill-process' : `errno(${errno})`
  const rules: RawRule[] = []
  if (allowList) {
    if ([...set.values()].some((e) => e !== undefined))
      notes.push('`name:ERRNO` on an allow-list entry has no meaning (the call is allowed); ignored')
    rules.push({ syscalls: [...set.keys()].sort(), action: 'allow' })
  } else {
    const byAction = new Map<string, string[]>()
    for (const [call, own] of set) {
      const action = own === undefined ? denied : own === 'kill' ? 'kill-process' : `errno(${own})`
      byAction.set(action, [...(byAction.get(action) ?? []), call])
    }
    for (const [action, syscalls] of byAction) rules.push({ syscalls: syscalls.sort(), action })
  }
  return {
    layer: { profile: 'none', default: allowList ? denied : 'allow', rules, origin },
    unknown: [...unknownNames].sort(),
    notes: [...new Set(notes)],
  }
}

/** The oldest systemd an exported unit is written for: Debian 12's systemd 252 with libseccomp
 * 2.5.4. systemd ignores, with a "Failed to parse system call" line at every load, any name its
 * libseccomp cannot resolve, so the export leaves these out (and lists what that changes). */
export const SYSTEMD_FLOOR = { systemd: 252, libseccomp: '2.5.4' } as const

/** Names in cordon's tables that libseccomp 2.5.4 does not know (newer syscalls, kernel 6.6+):
 * checked against libseccomp's own header and `systemd-analyze` in test/export. */
export const UNKNOWN_TO_SYSTEMD_FLOOR: ReadonlySet<string> = new Set([
  'file_getattr',
  'file_setattr',
  'getxattrat',
  'listmount',
  'listxattrat',
  'lsm_get_self_attr',
  'lsm_list_modules',
  'lsm_set_self_attr',
  'mseal',
  'open_tree_attr',
  'removexattrat',
  'riscv_hwprobe',
  'setxattrat',
  'statmount',
])
