// node:child_process on first use (src/builtin.ts): a plain `create` needs none of
// it, its launcher runs through the C entry point's helper (launch-helper.ts). Hooks the helper
// does not run, the monitor and a `run` with sysctls load it when they spawn.
export { childProcess } from '../builtin.js'
