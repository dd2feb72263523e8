// node:child_process on first use. Loading it loads net, streams and dgram too (~5 ms of CPU
// at each start of the runtime), and a plain `create` needs none of it: its launcher runs
// through the C entry point's helper (launch-helper.ts). Hooks, sysctls, the monitor, `run`
// and a create without the helper load it when they spawn.
import { createRequire } from 'node:module'

type ChildProcessModule = typeof import('node:child_process')

const load = createRequire(import.meta.url)

export const childProcess = (): ChildProcessModule => load('node:child_process') as ChildProcessModule
