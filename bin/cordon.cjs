#!/usr/bin/env node
'use strict'
// The `cordon` command (package.json `bin`). Two bundles, both made by `npm run build`
// (scripts/bundle-cli.mjs) into build/src/cli-bundle:
//
// - `cordon run`: run.cjs, one CommonJS file holding the run path and nothing of the other
//   commands, compiled with the V8 code cache made for it (run.cjs.cache). CommonJS, so that
//   Node never starts its ES module loader (resolve, link, a module job per file); the cache,
//   so that V8 neither parses nor compiles what a run executes: the cache is made after a
//   warm-up run, so it holds the functions a run calls, not only the top level (README: "CLI
//   start-up").
// - every other command: main.js, the split ES bundle, one chunk per command loaded on demand,
//   so that `cordon --version` loads the dispatcher's few small files.
//
// A checkout built without esbuild has neither: the unbundled modules (build/src/cli) serve.
// bin/cordon.js (an ES module) starts the same way, for callers that name it.
//
// The bundle and its cache are read from this package's own build directory only (the path
// comes from this file's real location, never from the working directory or the environment).
// A cache is used only for the exact bytes it was made from (it holds a copy of them), and V8
// refuses one from another Node or other V8 flags by itself: either way the bundle compiles as
// usual, silently. The file format is bin/cordon-oci.cjs's.
const { readFileSync, renameSync, writeFileSync } = require('node:fs')
const { dirname, join } = require('node:path')

const BUNDLE_DIR = join(__dirname, '..', 'build', 'src', 'cli-bundle')
const RUN_BUNDLE = join(BUNDLE_DIR, 'run.cjs')

// The function Node's own CommonJS loader wraps a module in: the cache is for this exact text.
const wrap = (source) => `(function (exports, require, module, __filename, __dirname) {${source}\n})`

// FILE.cache holds the bundle's length (u32, little-endian) and bytes, then V8's data. The copy
// binds the cache to exactly these bytes at the cost of a memcmp: V8 itself checks only the
// source's length.
const HEADER = 4

/** FILE.cache's V8 data when it was made for exactly `bytes`: `state` is stale when it was made
 * for other bytes, absent when there is none. */
function cachedDataFor(file, bytes) {
  let data
  try {
    data = readFileSync(`${file}.cache`)
  } catch {
    return { state: 'absent' }
  }
  const end = HEADER + bytes.length
  const same =
    data.length > end && data.readUInt32LE(0) === bytes.length && bytes.equals(data.subarray(HEADER, end))
  return same ? { state: 'found', data: data.subarray(end) } : { state: 'stale' }
}

/** Compiles and runs the CommonJS bundle FILE (with its cache unless `cached` is false): its
 * exports, the compiled script (warmCodeCache makes the cache from it), and what became of
 * FILE.cache: used, rejected (by V8: another Node, other V8 flags), stale, absent, or off. */
function load(file, cached = true) {
  const vm = require('node:vm')
  const bytes = readFileSync(file)
  const found = cached ? cachedDataFor(file, bytes) : { state: 'off' }
  const script = new vm.Script(wrap(bytes.toString('utf8')), { filename: file, cachedData: found.data })
  const module = { exports: {} }
  script
    .runInThisContext()
    .call(
      module.exports,
      module.exports,
      require('node:module').createRequire(file),
      module,
      file,
      dirname(file),
    )
  const cache = found.data ? (script.cachedDataRejected ? 'rejected' : 'used') : found.state
  return { exports: module.exports, script, bytes, cache }
}

const cannotLoad = (error) => {
  process.stderr.write(
    `cordon: cannot load the CLI (${error?.message}); run \`npm run build\` in the package\n`,
  )
  process.exit(125)
}

/** The split ES bundle, or the unbundled modules of a checkout built without esbuild. */
function startModules() {
  import('../build/src/cli-bundle/main.js')
    .catch((error) =>
      error?.code === 'ERR_MODULE_NOT_FOUND' && /cli-bundle[\\/]main\.js/.test(error.message)
        ? import('../build/src/cli/main.js')
        : Promise.reject(error),
    )
    .then((cli) => cli.main(cli.rawArgs()), cannotLoad)
}

/** Starts the command process.argv names. */
function start() {
  if (process.argv[2] === 'run') {
    let cli
    try {
      // Under --enable-source-maps, Node's own loader, which applies the bundle's map (vm.Script
      // does not): a stack trace then names the TypeScript sources. No cache then.
      cli = process.sourceMapsEnabled ? require(RUN_BUNDLE) : load(RUN_BUNDLE).exports
    } catch (error) {
      const missing =
        (error?.code === 'ENOENT' && error.path === RUN_BUNDLE) ||
        (error?.code === 'MODULE_NOT_FOUND' && error.message.startsWith(`Cannot find module '${RUN_BUNDLE}'`))
      if (!missing) cannotLoad(error)
    }
    if (cli) return void cli.main(cli.rawArgs())
  }
  startModules()
}

/** Build step (scripts/bundle-cli.mjs), in a process of its own: runs `cordon ARGV` for each
 * ARGV of `runs` from FILE compiled without a cache, then writes FILE.cache from what those runs
 * compiled. A run that fails (no user namespaces on the build host, no launcher built yet) has
 * compiled the path up to its failure: the cache holds that much, and V8 compiles the rest when
 * it is first called, as without a cache. */
async function warmCodeCache(file, runs) {
  const { exports: cli, script, bytes } = load(file, false)
  for (const argv of runs) await cli.main(argv)
  process.exitCode = 0
  const header = Buffer.alloc(HEADER)
  header.writeUInt32LE(bytes.length, 0)
  // Renamed into place whole: a build stopped half-way leaves no cache rather than a cut one.
  const tmp = `${file}.cache.${process.pid}`
  writeFileSync(tmp, Buffer.concat([header, bytes, script.createCachedData()]))
  renameSync(tmp, `${file}.cache`)
}

module.exports = { RUN_BUNDLE, load, start, warmCodeCache }

if (require.main === module) start()
