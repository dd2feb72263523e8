// npm's `prepare` step: builds the TypeScript, the precompiled seccomp filters and the CLI
// bundle. npm runs it on `npm ci` in the clone, and also inside the clone's own directory, as
// the *installing* user, when a project installs cordon from a path (`npm install
// /path/to/clone`, npm 11); npm then chmods the clone's bin files as that user too. A user who
// does not own the clone can do neither (EACCES on every file tsc writes, then EPERM on chmod),
// so that case stops here with one message and the way that works: a tarball.
import { execSync } from 'node:child_process'
import { accessSync, constants, existsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
// Each step says what it does first: the whole took 46 s on a 2-core VM with nothing printed
// after npm's own line (helper-148).
const STEPS = [
  ['compiling the TypeScript (the longest step)', 'tsc -p tsconfig.json'],
  ['precompiling the built-in seccomp filters', 'node scripts/precompile-seccomp.mjs'],
  ['bundling the CLI', 'node scripts/bundle-cli.mjs'],
]

function writable(path) {
  try {
    accessSync(path, constants.W_OK)
    return true
  } catch {
    return false
  }
}

const uid = process.getuid?.() ?? 0
// Every directory the build writes into, where it exists already; the bins npm chmods.
const dirs = [root, ...['build', 'build/src', 'build/test', 'build/seccomp'].map((d) => join(root, d))]
const blocked = dirs.find((d) => existsSync(d) && !writable(d))
const notOwned =
  uid === 0
    ? undefined
    : ['bin/cordon.cjs', 'bin/cordon-exec'].find((f) => statSync(join(root, f)).uid !== uid)
const obstacle = blocked ?? (notOwned && join(root, notOwned))
if (obstacle) {
  console.error(
    `cordon: cannot install from ${root} as uid ${uid}: ${obstacle} belongs to uid ${statSync(obstacle).uid}, and ` +
      'npm builds a linked directory and chmods its bin files as the installing user. Either clone cordon yourself ' +
      `(git clone --no-local -u "git -c safe.directory='*' upload-pack" ${root} cordon && cd cordon && npm ci: ` +
      "git refuses another user's repository otherwise, and this trusts it for this one clone), " +
      `or have its owner pack it (cd ${root} && npm pack) and ` +
      'install the tarball: npm install /path/to/cordon-VERSION.tgz',
  )
  process.exit(1)
}
for (const [what, command] of STEPS) {
  const started = Date.now()
  process.stderr.write(`cordon: ${what}…`)
  execSync(command, { cwd: root, stdio: 'inherit' })
  process.stderr.write(` ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
}
