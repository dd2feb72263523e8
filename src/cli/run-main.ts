// `cordon run` on its own: the entry of the CommonJS bundle that bin/cordon.cjs loads with its
// V8 code cache (scripts/bundle-cli.mjs). Only what a run can reach is in it, so that the cache
// V8 reads at every start holds the run path and nothing of the other commands; they load from
// the ES bundle through main.ts.
import { CordonError } from '../errors.js'
import { dispatch } from './dispatch.js'

/** The arguments as given, bytes that are not UTF-8 included (path-bytes.ts). */
export { rawArgs } from '../host/path-bytes.js'

/** argv is `run` and its arguments (bin/cordon.cjs sends nothing else here). */
export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv
  if (name !== 'run') throw new CordonError('internal', `run-main: not a run (${name})`)
  await dispatch(name, async () => (await import('./commands/run.js')).runCommand, rest)
}

/** For the lean path (run-fast.ts): the statements' status as the run command reports it. */
export { statusFor } from './commands/run.js'

/** For the lean path: why a command was not found, as spawn() says it (run/not-found.ts). */
export { notFoundHint as notFoundFor } from '../run/not-found.js'

/** For the lean path: what a command's failure may owe to the sandbox (run/exit-hints.ts). */
export { exitHint } from '../run/exit-hints.js'

/** bin/cordon.cjs hands over the addon it loaded (host/addon.ts adoptAddon). */
export { adoptAddon } from '../host/addon.js'
