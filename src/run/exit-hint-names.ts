// The commands whose failure exit-hints.ts may explain, known without loading it: the lean run
// path (cli/run-fast.ts) loads the full run bundle for a hint only when one may apply.
import { basename } from 'node:path'

/** Package managers and downloaders: they fail without the network. */
const NETWORK = new Set([
  'apt',
  'apt-get',
  'cargo',
  'composer',
  'curl',
  'gem',
  'go',
  'npm',
  'npx',
  'pip',
  'pip3',
  'pipx',
  'pnpm',
  'poetry',
  'uv',
  'wget',
  'yarn',
])

/** Which hint `command` ended with `code` may need: git's fatal status, or a network tool's
 * failure; undefined for the rest. */
export function hintedCommand(command: string, code: number): 'git' | 'network' | undefined {
  const name = basename(command)
  if (name === 'git') return code === 128 ? 'git' : undefined
  return code !== 0 && code < 128 && NETWORK.has(name) ? 'network' : undefined
}
