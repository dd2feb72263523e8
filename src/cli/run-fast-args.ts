// The `cordon run` command lines whose plan a later run may reuse (run/plan-cache.ts), and the
// key an entry is filed under. Shared by the run command, which writes entries, and its lean
// path (run-fast.ts), which reads them: both must read a command line the same way.
import { callerCwd } from '../host/path-bytes.js'

/** The build's own id (scripts/bundle-cli.mjs defines it in both run bundles, the same for
 * both): an entry is used only by the build that wrote it. Unbundled, there is none, and no
 * entry is written or read. */
declare const __CORDON_BUILD__: string | undefined
export const buildId = (): string | undefined =>
  typeof __CORDON_BUILD__ === 'string' && filingAllowed() ? __CORDON_BUILD__ : undefined

/** Whether plans are filed and used for this caller: for root only. An entry is trusted for
 * who can write it: root's are root's files in /run/cordon, which a sandbox cannot make (root's
 * sandboxes run as an unprivileged id range; one that keeps host root holds root's powers by
 * the policy's word). A plain user's sandbox runs as that user, and two attacks showed that
 * hiding the state directories does not keep it from writing one: it made /tmp/cordon-UID
 * before any compile had, and /run/user/UID when logind made it after the sandbox started; a
 * file it writes there is the user's as much as cordon's own. Without a secret out of every
 * sandbox's reach to sign entries with, a user's runs compile each time. */
export function filingAllowed(uid: number = process.getuid?.() ?? 0): boolean {
  return uid === 0
}

/** What such a command line says: a built-in profile (none: `default`), -q, the command. */
export interface FastRun {
  profile: string
  quiet: boolean
  command: string[]
}

/** The profiles the lean path runs (`--profile NAME`); any other option is the run command's. */
const PROFILES = new Set(['default', 'minimal'])

/** `[-q|--quiet] [--profile NAME] [--] COMMAND [ARG...]` (the options in any order, each at most
 * once); undefined for anything else. Without `--` the command is the first word that is no
 * option, as splitCommand reads it. */
export function fastRunArgs(argv: readonly string[]): FastRun | undefined {
  let profile: string | undefined
  let quiet = false
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') {
      i++
      break
    }
    if (!a.startsWith('-')) break
    if ((a === '-q' || a === '--quiet') && !quiet) quiet = true
    else if (a === '--profile' && profile === undefined && i + 1 < argv.length) profile = argv[++i]
    else if (a.startsWith('--profile=') && profile === undefined) profile = a.slice('--profile='.length)
    else return undefined
  }
  const command = argv.slice(i)
  if (!command.length || (profile !== undefined && !PROFILES.has(profile))) return undefined
  // splitCommand splits at the first `--` anywhere, so a command word before one is a flag
  // there (and refused): the lean path must not run a line the run command refuses.
  if (argv[i - 1] !== '--' && command.includes('--')) return undefined
  return { profile: profile ?? 'default', quiet, command }
}

/** Everything a compile of such a run reads besides the host reads it records (and the login
 * name, checked with them): the build, the profile, the working directory, the caller's ids, the
 * arch, the environment the policy and the compiler read (HOME for the shared directories,
 * XDG_RUNTIME_DIR for the state directory the view hides), and the path cordon was started by. */
export function runKey(run: FastRun, build: string): string {
  return JSON.stringify([
    build,
    run.profile,
    callerCwd(),
    process.getuid?.() ?? 0,
    process.getgid?.() ?? 0,
    process.arch,
    process.env.HOME ?? null,
    process.env.XDG_RUNTIME_DIR ?? null,
    // The path cordon was started by: the run warns when a writable bind holds it (a link in
    // node_modules/.bin, plan/own-install.ts), and the warning is filed with the plan.
    process.argv[1] ?? null,
  ])
}
