// What a command's failure may owe to the sandbox, said after it ends: cordon sees neither the
// program's messages nor its output, so a hint is given where the command and its status point
// at a cause the sandbox made, with the flags that remove it.
import { statSync } from 'node:fs'
import { fsPath } from '../host/path-bytes.js'
import { holdsHostRoot } from '../policy/effective.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { hintedCommand } from './exit-hint-names.js'
import { callerUid } from './state-dir.js'

/** The hint for a command (its argv) ended with `code` in cwd, or undefined. */
export function exitHint(
  policy: ResolvedPolicy,
  argv: readonly string[],
  code: number,
  cwd: string,
): string | undefined {
  for (const kind of hintedCommand(argv, code, policy.seccomp)) {
    const hint =
      kind === 'git'
        ? gitOwnerHint(policy, cwd)
        : kind === 'network'
          ? offlineHint(policy)
          : kind === 'writes'
            ? readOnlyHint(policy, argv, cwd)
            : kind === 'noexec'
              ? noexecHint(policy)
              : allowlistHint()
    if (hint) return hint
  }
  return undefined
}

/** The entry of the view that shows path: the last bind or tmpfs over it (later ones cover
 * earlier ones), or undefined where nothing does. */
function shownBy(policy: ResolvedPolicy, path: string) {
  const over = (dest: string) => dest === '/' || path === dest || path.startsWith(`${dest}/`)
  return policy.filesystem.filter((e) => (e.kind === 'bind' || e.kind === 'tmpfs') && over(e.dest)).at(-1)
}

/** A writer that failed where the project is bound read-only (the default): cc, git init, npm
 * init said `Read-only file system` and nothing named `--rw .` (helper-148). Without a mount
 * namespace the refusal is Landlock's EACCES, and the view's flags do not apply. */
function readOnlyHint(policy: ResolvedPolicy, argv: readonly string[], cwd: string): string | undefined {
  if (!policy.namespaces.mount) return undefined
  // A command whose target (its last operand: `touch /usr/x`, `cp a /srv/b`) is an absolute
  // path outside the project wrote there, not in the project: `--rw .` was no answer
  // (helper-152).
  const target = argv
    .slice(1)
    .filter((a) => !a.startsWith('-'))
    .at(-1)
  const outside =
    target?.startsWith('/') && target !== cwd && !target.startsWith(`${cwd}/`) ? target : undefined
  if (outside) {
    const there = shownBy(policy, outside)
    if (there?.kind !== 'bind' || !there.readOnly) return undefined
    return (
      `if it said "Read-only file system": ${there.dest} is read-only in the sandbox; ` +
      'a run writes only where the policy binds writable (`--rw DIR`)'
    )
  }
  const entry = shownBy(policy, cwd)
  if (entry?.kind !== 'bind' || !entry.readOnly) return undefined
  return (
    `if it said "Read-only file system": ${cwd === entry.dest ? 'the project' : entry.dest} is read-only in the sandbox; ` +
    '`--rw .` lets the run write it, or only its output: `--rw ./out`'
  )
}

/** A shell whose program was found but not executable, where the sandbox's /tmp is noexec (the
 * default): `cc -o /tmp/h h.c && /tmp/h` said only `Permission denied` (helper-148). */
function noexecHint(policy: ResolvedPolicy): string | undefined {
  const tmp = shownBy(policy, '/tmp/x')
  if (!policy.namespaces.mount || tmp?.kind !== 'tmpfs' || tmp.dest !== '/tmp' || tmp.exec !== false)
    return undefined
  return (
    'if it said "Permission denied" running a program it made in /tmp: the sandbox\'s /tmp is noexec; ' +
    'build in a `--rw` directory, or make /tmp executable with `--tmpfs /tmp`'
  )
}

/**
 * git (2.35.2 and later) refuses a repository owned by another uid than its own ("detected
 * dubious ownership"), and names a fix that does not work here: `git config --global` on the
 * host, where the sandbox's HOME is its own. Root's sandboxes run as an unprivileged id range,
 * so root's files show as `nobody` inside (README, Identity), and a plain user's sees other
 * users' files the same way. Newcomers met it twice (helper-134 and the session before).
 */
function gitOwnerHint(policy: ResolvedPolicy, cwd: string): string | undefined {
  let owner: number | undefined
  try {
    owner = statSync(fsPath(cwd), { throwIfNoEntry: false })?.uid
  } catch {
    return undefined // unreadable: nothing to say, and the command's status stands
  }
  const uid = callerUid()
  const hostRoot = holdsHostRoot(policy)
  // Host root keeps its ids inside; a plain user's own project shows as theirs.
  if (owner === undefined || ((uid !== 0 || hostRoot) && owner === uid)) return undefined
  const why =
    uid === 0 && !hostRoot
      ? "root's files show as `nobody` inside"
      : "the project's owner shows as another user inside"
  return (
    `if git said "detected dubious ownership": ${why}, and git's own fix (git config --global) does not reach ` +
    "the sandbox's HOME; trust this directory for the run with " +
    '`--env GIT_CONFIG_COUNT=1 --env GIT_CONFIG_KEY_0=safe.directory --env GIT_CONFIG_VALUE_0="$PWD"` (README: git)'
  )
}

/** A package manager or downloader that failed fetching in a sandbox without the network (the
 * default): npm retried for a minute and ended with EAI_AGAIN, its log in the private /tmp that
 * went with the run, and nothing said the network was off (helper-134). */
function offlineHint(policy: ResolvedPolicy): string | undefined {
  if (policy.network === 'host') return undefined
  return (
    `if it needed the network: the sandbox has none (\`--net ${policy.network}\`${policy.network === 'none' ? ', the default' : ''}); ` +
    "`--net host` gives it the host's"
  )
}

/** A run under a syscall allowlist (what `cordon learn` writes: default errno) that failed: a
 * call the learning run did not make is refused, and the program says only `Operation not
 * permitted`; `--audit` names each refused call and the rule that lets it (helper-148). */
function allowlistHint(): string {
  return (
    'if it said "Operation not permitted" or "Function not implemented": the policy allows only the ' +
    'system calls it lists; run it again with `--audit` to see each one refused and the rule that allows it'
  )
}
