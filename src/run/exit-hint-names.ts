// The commands whose failure exit-hints.ts may explain, known without loading it: the lean run
// path (cli/run-fast.ts) loads the full run bundle for a hint only when one may apply.
import { basename } from 'node:path'
import { type BuiltinSeccompProfile, PROFILE_DEFAULTS } from '../seccomp/profile-defaults.js'

const INSTALLS = ['install', 'i', 'ci', 'add', 'update', 'upgrade', 'up', 'download', 'fetch', 'lock', 'sync']

/** Downloaders (any use), and package managers with the subcommands that fetch: a failing
 * `npm test` or `cargo fmt` says nothing of the network (helper-136). */
const NETWORK: Readonly<Record<string, readonly string[] | 'always'>> = {
  curl: 'always',
  wget: 'always',
  npx: 'always',
  npm: [...INSTALLS, 'publish', 'view', 'info', 'exec', 'x', 'init', 'create'],
  pnpm: [...INSTALLS, 'dlx', 'exec', 'create'],
  yarn: ['', ...INSTALLS, 'dlx', 'create'],
  pip: INSTALLS,
  pip3: INSTALLS,
  pipx: [...INSTALLS, 'run'],
  uv: [...INSTALLS, 'pip', 'run', 'tool', 'venv'],
  poetry: INSTALLS,
  cargo: [...INSTALLS, 'build', 'run', 'test', 'check', 'generate-lockfile', 'publish'],
  go: ['get', 'install', 'build', 'mod', 'run', 'test', 'download', 'vet'],
  gem: INSTALLS,
  bundle: INSTALLS,
  composer: [...INSTALLS, 'require', 'create-project'],
  apt: [...INSTALLS, 'full-upgrade', 'dist-upgrade', 'source'],
  'apt-get': [...INSTALLS, 'dist-upgrade', 'source'],
}

/** git's commands that reach a remote: offline they end with its fatal status too. */
const GIT_REMOTE = ['clone', 'fetch', 'pull', 'push', 'ls-remote', 'submodule', 'remote']

const BUILDS = ['build', 'install', 'run', 'test', 'init', 'new', 'generate']
/** Programs that write where they run, by their failing subcommands: in the default sandbox the
 * project is read-only, and their `Read-only file system` was the newcomer's first failure
 * (helper-148: cc, git init, npm init). */
const WRITES: Readonly<Record<string, readonly string[] | 'always'>> = {
  ...Object.fromEntries(
    [
      'cc',
      'gcc',
      'g++',
      'c++',
      'clang',
      'clang++',
      'ld',
      'make',
      'cmake',
      'ninja',
      'meson',
      'javac',
      'rustc',
      'tsc',
    ]
      .concat([
        'touch',
        'mkdir',
        'cp',
        'mv',
        'rm',
        'ln',
        'tee',
        'install',
        'tar',
        'unzip',
        'patch',
        'truncate',
      ])
      .map((n) => [n, 'always' as const]),
  ),
  // Not their `test` and `run`: a test or a script fails for its own reasons far more often.
  npm: [...INSTALLS, 'init', 'pack', 'exec', 'x', 'create', 'build'],
  pnpm: [...INSTALLS, 'init', 'pack', 'exec', 'create', 'build'],
  yarn: ['', ...INSTALLS, 'init', 'pack', 'create', 'build'],
  pip: INSTALLS,
  pip3: INSTALLS,
  cargo: [...BUILDS, ...INSTALLS, 'check', 'fmt', 'fix'],
  go: [...BUILDS, 'mod', 'get'],
  git: ['init', 'add', 'commit', 'checkout', 'switch', 'merge', 'rebase', 'stash', 'reset', 'restore']
    .concat(['rm', 'mv', 'tag', 'branch', 'clone', 'pull', 'fetch', 'gc', 'config', 'apply', 'am'])
    .concat(['cherry-pick', 'revert']),
}
const SHELLS = ['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash']

export type HintKind = 'git' | 'network' | 'writes' | 'noexec' | 'allowlist'

/** The commands a run ran, as far as its argv says: the command, and for a shell's `-c` script
 * the first words of each of its commands (quotes and expansions are not read: a hint says "if
 * it said"). */
function commandsOf(argv: readonly string[]): string[][] {
  const shell = SHELLS.includes(basename(argv[0] ?? '')) && /^-[a-z]*c[a-z]*$/.test(argv[1] ?? '')
  if (!shell || argv[2] === undefined) return [[...argv]]
  const inner = argv[2]
    .split(/&&|\|\||[;|&\n(){}`]/)
    .map((c) => c.trim().split(/\s+/).filter(Boolean))
    .map((w) =>
      w.slice(w.findIndex((x) => !/^\w+=/.test(x) && !['exec', 'time', 'env', 'then', 'do'].includes(x))),
    )
    .filter((w) => w.length > 0)
  return [[...argv], ...inner]
}

function kindOf(argv: readonly string[], code: number): HintKind[] {
  const name = basename(argv[0] ?? '')
  const sub = argv.slice(1).find((a) => !a.startsWith('-')) ?? ''
  const kinds: HintKind[] = []
  if (name === 'git' && code === 128) kinds.push(GIT_REMOTE.includes(sub) ? 'network' : 'git')
  const net = NETWORK[name]
  if (name !== 'git' && code > 0 && code < 126 && net && (net === 'always' || net.includes(sub)))
    kinds.push('network')
  const writes = WRITES[name]
  if (code > 0 && code !== 126 && code !== 127 && writes && (writes === 'always' || writes.includes(sub)))
    kinds.push('writes')
  // A shell's 126: a program it ran was found but not executable, as one the run built in /tmp.
  if (code === 126 && (SHELLS.includes(name) || name === 'make')) kinds.push('noexec')
  return kinds
}

/** Which hints a command (its argv) ended with `code` may need, most likely first: git's
 * refusal of a repository, a network tool's failure, a write into the read-only project, a
 * program run from the noexec /tmp, a call a syscall allowlist refused; empty for the rest. cordon's own 126 and 127 (the command
 * not executable, not found) say why themselves, and deaths by a signal are the command's. */
export function hintedCommand(
  argv: readonly string[],
  code: number,
  seccomp: readonly { profile?: string; default?: string }[] = [],
): HintKind[] {
  const kinds = commandsOf(argv).flatMap((c) => kindOf(c, code))
  if (code > 0 && code < 126 && isAllowlist(seccomp)) kinds.push('allowlist')
  return [...new Set(kinds)]
}

/** Whether a policy's seccomp layers (ResolvedPolicy['seccomp'], read without the seccomp
 * compiler, which the lean run path does not load) refuse what they do not list: `cordon learn`
 * writes `default: errno(EPERM)`; a profile's own default decides where no layer sets one. */
function isAllowlist(layers: readonly { profile?: string; default?: string }[]): boolean {
  let profile = 'default'
  let fallback: string | undefined
  for (const l of layers) {
    if (l.profile !== undefined) profile = l.profile
    if (l.default !== undefined) fallback = l.default
  }
  const own = Object.hasOwn(PROFILE_DEFAULTS, profile)
    ? PROFILE_DEFAULTS[profile as BuiltinSeccompProfile]
    : 'allow'
  return !/^(allow|log|trace|notify)\b/.test(fallback ?? own)
}
