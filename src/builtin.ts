// Node's built-in modules that a plain run never uses, loaded on first use. Importing them
// at the top costs each start their whole graph: node:child_process brings net, streams and
// dgram (~5 ms of CPU); node:net's streams ~3 ms; and a plain `cordon run` starts its launcher
// through cordon's addon (run/launcher-process.ts) and needs none of them. By
// process.getBuiltinModule (Node 20.16, package.json engines), not a require made by node:module's
// createRequire: loading node:module cost every start ~0.45 ms that only these need.

/** The modules loaded this way, by name. */
interface Builtins {
  'node:child_process': typeof import('node:child_process')
  'node:dgram': typeof import('node:dgram')
  'node:module': typeof import('node:module')
  'node:net': typeof import('node:net')
  'node:readline': typeof import('node:readline')
  'node:tty': typeof import('node:tty')
}

export function builtin<K extends keyof Builtins>(name: K): Builtins[K] {
  return process.getBuiltinModule(name)
}

export const childProcess = (): Builtins['node:child_process'] => builtin('node:child_process')
export const net = (): Builtins['node:net'] => builtin('node:net')
