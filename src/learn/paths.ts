// The path facts learn and audit use, from host/paths.ts (run/not-found.ts needs them too, and
// run sits below learn).
export * from '../host/paths.js'
