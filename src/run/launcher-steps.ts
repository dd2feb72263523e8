// The launcher's step names that TypeScript refers to, and the hints for their common kernel
// failures: one home for both. A step is the `step` of an `error` or `warning` event, the name
// native/ gives the operation that failed (die_step, ev_step_error, ev_warning). Every name here
// must be a string in native/: test/architecture/contracts.test.ts fails when C renames one,
// which would otherwise lose its hint, or its special case, silently.
import { shortened } from './shortened.js'
import { readFileSync } from 'node:fs'
import { outOfFds, RAISE_FD_LIMIT } from '../errors.js'

export const LAUNCHER_STEPS = [
  'bind',
  'bind read-only',
  'idmapped bind',
  'clone namespaces',
  'uid_map',
  'proc',
  'chdir',
  'exec',
  'drop capabilities',
  'landlock',
  'landlock rule',
  'seccomp listener',
  'seccomp trace',
] as const

export type LauncherStep = (typeof LAUNCHER_STEPS)[number]

/** Whether an event's step is this launcher step (a name checked by the compiler). */
export const isStep = (step: string, name: LauncherStep): boolean => step === name

/** native/events.h NESTED_LISTENER_HINT: a listener inside a sandbox that already has one. */
const NESTED_LISTENER =
  "a sandbox inside another cannot report syscalls (--monitor, --watch, --audit, learn): the kernel allows one seccomp listener per process tree and cordon's default filter refuses pidfd_getfd; monitor only the outer sandbox, or run the inner one without them"
const MISSING_SOURCE = 'source does not exist; create it or mark the entry `optional: true`'
// A bind's source and destination kinds differ (native/view.c attach()).
const FILE_ONTO_DIR =
  'the source is a file and the destination a directory in the view; give a file destination (`SRC:/dir/name`), or bind the directory that holds the file'
const DIR_ONTO_FILE =
  'the source is a directory and the destination a file in the view; give a directory destination'
const KINDS_DIFFER = { EISDIR: FILE_ONTO_DIR, ENOTDIR: DIR_ONTO_FILE }

/** Hints for step failures the kernel commonly reports: by step, then by errno name. */
const HINTS: { readonly [S in LauncherStep]?: Readonly<Record<string, string>> } = {
  bind: {
    ENOENT: MISSING_SOURCE,
    ELOOP:
      'a symlink appeared on the source\u2019s way after the plan was made (perhaps planted by a sandbox); remove it, or compile the plan again',
    ...KINDS_DIFFER,
  },
  'bind read-only': { ENOENT: MISSING_SOURCE, ...KINDS_DIFFER },
  'idmapped bind': KINDS_DIFFER,
  'clone namespaces': {
    EPERM:
      'user namespaces are blocked for this user; run `cordon check` for the sysctl or AppArmor setting to change',
    ENOSPC: 'the user namespace limit is reached; raise user.max_user_namespaces',
    EINVAL: 'this kernel lacks one of the namespaces; run `cordon check`',
  },
  uid_map: { EPERM: 'the id map is not allowed; unprivileged callers can map only their own uid' },
  proc: { EPERM: 'proc can only be mounted for a new pid namespace; keep `namespaces.pid: true`' },
  chdir: {
    ENOENT:
      "the working directory is not in the view; choose another (`--cwd DIR`, a policy's `cwd`) or show this one (`--ro DIR`, a policy's `filesystem`)",
    EACCES:
      "the sandbox's user may not enter the working directory (its mode shuts that user out: a plain user's sandbox runs as that user, root's as an unprivileged id range, which a 0700 directory shuts out); `chmod a+rX` it, or, as root, grant it with `--rw .` (an idmapped bind), or run from another directory",
  },
  exec: {
    ENOENT: 'command not found in the sandbox; is its directory in the view and on PATH?',
    EACCES: 'command is not executable, or its file system is mounted noexec',
    EISDIR: 'command is a directory, not a program; name the program inside it',
  },
  'drop capabilities': { EPERM: 'a capability asked for in `capabilities` is not held by the caller' },
  landlock: {
    ENOSYS:
      'the policy requires Landlock and this kernel lacks it (CONFIG_SECURITY_LANDLOCK); run `cordon check`',
    EOPNOTSUPP:
      'the policy requires Landlock and it is disabled at boot: add landlock to lsm=; run `cordon check`',
  },
  'seccomp listener': { EBUSY: NESTED_LISTENER, EPERM: NESTED_LISTENER },
  'landlock rule': {
    ENOENT: 'the path does not exist in the sandbox; mark it `optional: true` or add it to the view',
    // Without a view a rule is opened on the host as the sandbox's ids: a newcomer's project in
    // /root (0700) under --no-namespaces got a bare EACCES.
    EACCES:
      "the sandbox's user may not reach this path to grant it (without a mount namespace the rule is opened as the sandbox's ids, and root's sandboxes run as an unprivileged id range, which a 0700 directory on the way, such as /root, shuts out); `chmod a+rX` the directories on its way, or run from another directory, or with namespaces",
  },
}

/** Inside a container or another sandbox, a seccomp filter around cordon refuses namespaces
 * (Docker's default profile does, and so does cordon's own): not the host's setting. */
const OUTER_FILTER =
  'a seccomp filter around cordon refuses creating namespaces (cordon runs inside a container or another sandbox: /proc/self/status says Seccomp: 2); run cordon on the host, or with --no-namespaces here, where its Landlock and seccomp layers stack on the outer ones'

function underSeccompFilter(): boolean {
  try {
    return /^Seccomp:\s*2$/m.test(readFileSync('/proc/self/status', 'utf8'))
  } catch {
    return false
  }
}

const EXEC_PATH_ENOENT =
  'not found in the sandbox: is it in the view? A dynamically linked program also needs its loader and libraries in the view (`ldd` names them), and a script its #! interpreter'

/** The hint for a step that failed with this errno name, when there is one. */
export function stepHint(step: string, code: string | undefined): string | undefined {
  // Any step may run out of descriptors, the launcher's (it has the caller's limit: helper-114)
  // and Node's own before it (a socketpair for the launcher's channel: CI59, under learn).
  if (code && outOfFds(code)) return `too many open files: ${RAISE_FD_LIMIT}`
  if (!code || !(LAUNCHER_STEPS as readonly string[]).includes(step)) return undefined
  if (step === 'clone namespaces' && code === 'EPERM' && underSeccompFilter()) return OUTER_FILTER
  return HINTS[step as LauncherStep]?.[code]
}

/** One line a person reads: `bind /srv/www -> /var/www failed: source does not exist (ENOENT)`. */
export function describeStepError(e: {
  step: string
  path?: string
  dest?: string
  code?: string
  message: string
  hint?: string
}): string {
  const target = e.path ? ` ${shortened(e.path)}${e.dest ? ` -> ${shortened(e.dest)}` : ''}` : ''
  let hint = stepHint(e.step, e.code)
  // A path the sandbox may well hold: ENOENT then also means its loader or #! interpreter.
  if (hint && e.step === 'exec' && e.code === 'ENOENT' && e.path?.includes('/')) hint = EXEC_PATH_ENOENT
  // The host's own judgement (spawn() adds it) says more than the step's general words.
  if (e.hint) hint = e.hint
  const reason = hint ?? e.message.charAt(0).toLowerCase() + e.message.slice(1)
  return `${e.step}${target} failed: ${reason}${e.code ? ` (${e.code})` : ''}`
}
