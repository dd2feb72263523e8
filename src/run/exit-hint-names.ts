// The commands whose failure exit-hints.ts may explain, known without loading it: the lean run
// path (cli/run-fast.ts) loads the full run bundle for a hint only when one may apply.
import { basename } from 'node:path'

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

/** Which hint a command (its argv) ended with `code` may need: git's refusal of a repository,
 * or a network tool's failure; undefined for the rest. 126 and 127 (not executable, not found)
 * and deaths by a signal are the command's own. */
export function hintedCommand(argv: readonly string[], code: number): 'git' | 'network' | undefined {
  const name = basename(argv[0] ?? '')
  const sub = argv.slice(1).find((a) => !a.startsWith('-')) ?? ''
  if (name === 'git') return code !== 128 ? undefined : GIT_REMOTE.includes(sub) ? 'network' : 'git'
  const subs = NETWORK[name]
  if (code === 0 || code >= 126 || !subs) return undefined
  return subs === 'always' || subs.includes(sub) ? 'network' : undefined
}
