// In the CLI bundle this module stands in for plan/filter.ts (scripts/bundle-cli.mjs redirects
// every import of it here), so that the seccomp compiler loads only when a command needs a
// filter that is not precompiled: a plain `cordon run` reads its filter from build/seccomp and
// skips the compiler's parse and compile (README: "Performance"). main.ts loads it before any
// command but `run`, which loads it itself when its policy needs it (commands/run.ts).
import { CordonError } from '../errors.js'
import type * as Filter from './filter.js'

export type { FilterRewrite, PlanFilter } from './filter.js'

let compiler: typeof Filter.compileFilter | undefined

export async function loadFilterCompiler(): Promise<void> {
  compiler ??= (await import('./filter.js')).compileFilter
}

export const compileFilter: typeof Filter.compileFilter = (...args) => {
  if (!compiler)
    throw new CordonError('internal', 'the seccomp compiler was not loaded before compiling a plan')
  return compiler(...args)
}
