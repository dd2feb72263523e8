// node:child_process on first use. Loading it loads net, streams and dgram too (~5 ms of CPU
// at each start), and a plain `cordon run` needs none of it: its launcher starts through
// cordon's addon (run/launcher-process.ts).
import { createRequire } from 'node:module'

type ChildProcessModule = typeof import('node:child_process')

const load = createRequire(import.meta.url)

export const childProcess = (): ChildProcessModule => load('node:child_process') as ChildProcessModule
