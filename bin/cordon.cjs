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
// usual, silently. The loader and the file format are bin/code-cache.cjs's.
const { join } = require('node:path')

// Required on the run path only: `cordon --version` and the other commands load no node:vm.
const codeCache = () => require('./code-cache.cjs')
const load = (file, cached, map) => codeCache().load(file, cached, map)

const BUNDLE_DIR = join(__dirname, '..', 'build', 'src', 'cli-bundle')
const RUN_BUNDLE = join(BUNDLE_DIR, 'run.cjs')
const FAST_BUNDLE = join(BUNDLE_DIR, 'run-fast.cjs')
const ADDON = join(__dirname, '..', 'build', 'native', 'cordon-spawn.node')

/** cordon's addon (native/spawn-addon.c), loaded for the run path before its bundle: it maps the
 * bundle's code cache (bin/code-cache.cjs), and the bundle then takes it over (adoptAddon) to
 * start the launcher, as it would have loaded it anyway. null where it is not built or does not
 * load: the cache is read, and the bundle tries (and fails) on its own. */
function runAddon() {
  try {
    const module = { exports: {} }
    process.dlopen(module, ADDON, require('node:os').constants.dlopen.RTLD_NOW)
    return module.exports
  } catch {
    return null
  }
}

const cannotLoad = (error) => {
  process.stderr.write(
    error?.code === 'EMFILE' || error?.code === 'ENFILE'
      ? 'cordon: too many open files to load the CLI: raise the limit, e.g. `ulimit -n 1024`\n'
      : `cordon: cannot load the CLI (${error?.message}); run \`npm run build\` in the package\n`,
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

/** process.stdout and process.stderr, made on first use as Node makes them, except for a pipe
 * or a socket. For those Node's stream makes the fd non-blocking (libuv), and the file
 * description is the one the sandboxed program writes to: a program writing more than the pipe
 * holds to a reader a moment late then got EAGAIN, which it never gets unobserved. Node builds
 * process.stderr behind cordon's back too: each net socket that closes asks `this !==
 * process.stderr` (a `cordon monitor` detaching from a run's event socket did it), and so does
 * a warning. So a pipe or socket gets cordon's stream instead: it writes with writeSync and
 * waits as the program's own writes do, and on EAGAIN (the fd made non-blocking by someone
 * else) it retries from the event loop. A terminal (libuv reopens it) and a file (Node writes
 * it synchronously) keep Node's stream. Returns the streams made: one that still holds output
 * keeps the process until it is written (exit() would drop it), as Node does without exit(). */
function stdio() {
  const made = []
  for (const [name, fd] of [
    ['stdout', 1],
    ['stderr', 2],
  ]) {
    const d = Object.getOwnPropertyDescriptor(process, name)
    if (!d?.get || !d.configurable) continue
    let stream
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: d.enumerable,
      get() {
        if (stream === undefined) {
          stream = sharedPipe(fd) ? blockingWriter(fd) : d.get.call(process)
          made.push(stream)
        }
        return stream
      },
    })
  }
  return made
}

function sharedPipe(fd) {
  try {
    const st = require('node:fs').fstatSync(fd)
    return st.isFIFO() || st.isSocket()
  } catch {
    return false // closed: Node's stream says so as it always has
  }
}

/** A Writable on fd that writes synchronously and never changes the fd's flags. */
function blockingWriter(fd) {
  const { writeSync } = require('node:fs')
  const { Writable } = require('node:stream')
  const stream = new Writable({
    write(chunk, _encoding, done) {
      let at = 0
      const attempt = () => {
        try {
          while (at < chunk.length) at += writeSync(fd, chunk, at)
        } catch (error) {
          if (error?.code === 'EAGAIN') return void setTimeout(attempt, 1)
          // A line on a stderr no one reads any more (EPIPE) is lost, as writeStderr loses one
          // (src/host/stderr.ts): not an 'error' that nothing handles, which ended cordon and the
          // sandbox with it. stdout's errors stay the caller's (cli/dispatch.ts ends on EPIPE).
          return done(fd === 2 ? undefined : error)
        }
        done()
      }
      attempt()
    },
  })
  // What Node's stdio streams say of themselves: never closes the fd, not a terminal.
  Object.assign(stream, { fd, isTTY: false, _isStdio: true, destroySoon: stream.destroy })
  return stream
}

/** Starts the command process.argv names. */
function start() {
  // Built-in modules are loaded by process.getBuiltinModule (src/builtin.ts): Node 20.16 and later.
  if (typeof process.getBuiltinModule !== 'function') {
    process.stderr.write(
      `cordon: needs Node.js 20.16 or newer (this is ${process.version}); install a newer Node.js\n`,
    )
    process.exit(125)
  }
  const made = stdio()
  if (process.argv[2] === 'run') return void startRun(made)
  startModules()
}

/** `cordon run`: its lean path first (run-fast.cjs: a plan an earlier run of the same command
 * line compiled, README "CLI start-up"), else the run command. */
function startRun(made) {
  // Exits as soon as the run is over: left to drain, Node would then free its heap page by
  // page and dispose of V8 (~10 ms of a run of /bin/true, after the sandbox ended). The run
  // awaits its outputs' close; only process.stdout and stderr may still hold lines then.
  const exit = () => {
    if (!made.some((s) => s.writableLength > 0 && !s.destroyed)) process.exit()
  }
  let fast
  const addon = process.sourceMapsEnabled ? null : runAddon()
  const map = typeof addon?.map === 'function' ? addon.map : undefined
  try {
    // Plans are filed for root only (src/cli/run-fast-args.ts filingAllowed): for anyone else
    // the lean bundle could only miss, and loading it cost a plain user's every run ~7 ms.
    if (!process.sourceMapsEnabled && process.getuid?.() === 0) fast = load(FAST_BUNDLE, true, map).exports
  } catch {} // not built (a checkout without esbuild): the run command serves
  if (!fast) return void startRunCommand(exit, addon, map)
  if (addon) fast.adoptAddon?.(addon)
  const argv = fast.rawArgs()
  // main() settles undefined, or rejects, only before a launcher had its go: nothing ran.
  fast.main(argv).then(
    (code) => {
      if (code === undefined) return void startRunCommand(exit, addon, map)
      process.exitCode = code
      exit()
    },
    () => startRunCommand(exit, addon, map),
  )
}

function startRunCommand(exit, addon, map) {
  let cli
  try {
    // Under --enable-source-maps, Node's own loader, which applies the bundle's map (vm.Script
    // does not): a stack trace then names the TypeScript sources. No cache then.
    cli = process.sourceMapsEnabled ? require(RUN_BUNDLE) : load(RUN_BUNDLE, true, map).exports
  } catch (error) {
    const missing =
      (error?.code === 'ENOENT' && error.path === RUN_BUNDLE) ||
      (error?.code === 'MODULE_NOT_FOUND' && error.message.startsWith(`Cannot find module '${RUN_BUNDLE}'`))
    if (!missing) cannotLoad(error)
  }
  if (cli && addon) cli.adoptAddon?.(addon)
  if (cli) return void cli.main(cli.rawArgs()).then(exit)
  startModules()
}

/** Build step (scripts/bundle-cli.mjs), in a process of its own: runs `cordon ARGV` for each
 * ARGV of `runs` from FILE compiled without a cache, then writes FILE.cache from what those runs
 * compiled. A run that fails (no user namespaces on the build host, no launcher built yet) has
 * compiled the path up to its failure: the cache holds that much, and V8 compiles the rest when
 * it is first called, as without a cache. */
async function warmCodeCache(file, runs) {
  const { exports: cli, script, text } = load(file, false)
  for (const argv of runs) await cli.main(argv)
  process.exitCode = 0
  codeCache().saveCache(file, text, script)
}

module.exports = { RUN_BUNDLE, FAST_BUNDLE, load, start, warmCodeCache }

if (require.main === module) start()
