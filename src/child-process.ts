// node:child_process on first use. Loading it loads net, streams and dgram too (~5 ms of CPU
// at each start), and a plain `cordon run` needs none of it: its launcher starts through
// cordon's addon (run/launcher-process.ts).
import { createRequire } from 'node:module'

type ChildProcessModule = typeof import('node:child_process')

// Made on first use too: createRequire costs ~0.5 ms of CPU at a start that never spawns.
let load: NodeJS.Require | undefined

export const childProcess = (): ChildProcessModule =>
  (load ??= createRequire(import.meta.url))('node:child_process') as ChildProcessModule
