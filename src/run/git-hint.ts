// git (2.35.2 and later) refuses a repository owned by another uid than its own ("detected
// dubious ownership"), and names a fix that does not work here: `git config --global` on the
// host, where the sandbox's HOME is its own. Root's sandboxes run as an unprivileged id range,
// so root's files show as `nobody` inside (README, Identity), and a plain user's sees other
// users' files the same way. cordon sees neither git's message nor the program's output: when
// git ends with its fatal status (128) where the owner may show as another, it names the
// per-run exception the README gives.
import { statSync } from 'node:fs'
import { basename } from 'node:path'
import { holdsHostRoot } from '../policy/effective.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { callerUid } from './state-dir.js'

/** The hint for `command` ended with `code` in cwd, or undefined where git sees its own. */
export function gitOwnerHint(
  policy: ResolvedPolicy,
  command: string,
  code: number,
  cwd: string,
): string | undefined {
  if (basename(command) !== 'git' || code !== 128) return undefined
  const owner = statSync(cwd, { throwIfNoEntry: false })?.uid
  const uid = callerUid()
  // Host root keeps its ids inside; a plain user's own project shows as theirs.
  if (owner === undefined || ((uid !== 0 || holdsHostRoot(policy)) && owner === uid)) return undefined
  return (
    `if git said "detected dubious ownership": ${uid === 0 ? "root's files show as `nobody` inside" : "the project's owner shows as another user inside"}, ` +
    `and git's own fix (git config --global) does not reach the sandbox's HOME; trust this directory for the run with ` +
    `\`--env GIT_CONFIG_COUNT=1 --env GIT_CONFIG_KEY_0=safe.directory --env GIT_CONFIG_VALUE_0="$PWD"\` (README: git)`
  )
}
