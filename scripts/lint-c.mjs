// The launcher's C style (.clang-format), checked as part of `npm test`. clang-format is a
// Debian package, not an npm one: where it is missing the check says so and is skipped, except
// in CI (.ci/run installs it), where a skipped check would hide a style drift.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'

const files = readdirSync('native')
  .filter((f) => /\.[ch]$/.test(f))
  .map((f) => `native/${f}`)
const r = spawnSync('clang-format', ['--dry-run', '--Werror', ...files], { stdio: 'inherit' })
if (r.error && r.error.code === 'ENOENT') {
  const msg = 'lint:c: clang-format is not installed (apt-get install clang-format)'
  if (process.env.CI) {
    console.error(`${msg}; CI must run the check`)
    process.exit(1)
  }
  console.error(`${msg}: the C style check is skipped`)
  process.exit(0)
}
if (r.status !== 0) console.error('lint:c: run `npm run format:c` to apply the style')
process.exit(r.status ?? 1)
