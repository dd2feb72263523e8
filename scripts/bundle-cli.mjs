// Build step: bundles the CLI (src/cli/main.ts and what it imports) with esbuild into
// build/src/cli-bundle/, which bin/cordon.cjs loads. One file instead of ~60 ES modules saves
// the CLI most of Node's per-module resolve/load/compile cost (README: "Performance").
//
// The bundle sits at the same depth as the modules it replaces (build/src/<dir>/), so the
// files found relative to import.meta.url (build/native/cordon-exec, build/seccomp/, rules/)
// resolve the same from it. Each lazy import() of a command or an optional layer (monitor,
// metrics, export, verify, learn…) stays a chunk of its own, loaded only when used.
// prom-client and yaml stay outside: they load only with --metrics and for a located policy
// error, from node_modules as before.
//
// `cordon run` has a bundle of its own besides: run.cjs, one CommonJS file from
// src/cli/run-main.ts, js-yaml in it (bundled-js-yaml below), with a V8 code cache made after a
// warm-up run (bin/cordon.cjs loads both).
//
//   node scripts/bundle-cli.mjs [--metafile FILE]   (the metafile shows what each chunk holds)
import { spawnSync } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const BUNDLE_DIR = join(root, 'build', 'src', 'cli-bundle')

const { values } = parseArgs({ options: { metafile: { type: 'string' } } })
let esbuild
try {
  esbuild = await import('esbuild')
} catch (e) {
  // A consumer's install never runs this (the tarball has the bundle); a checkout without
  // devDependencies still gets a working CLI: bin/cordon.js falls back to build/src/cli.
  console.error(`bundle-cli: esbuild is not installed (${e.message}); the CLI runs unbundled`)
  process.exit(0)
}
const standIn = join(root, 'src', 'plan', 'lazy-filter.ts')
const lazyFilter = {
  name: 'lazy-filter',
  setup(build) {
    build.onResolve({ filter: /\/plan\/filter\.js$|^\.\/filter\.js$/ }, (args) => {
      const target = join(args.resolveDir, args.path)
      if (target !== join(root, 'src', 'plan', 'filter.js') || args.importer === standIn) return undefined
      return { path: standIn }
    })
  },
}
// esbuild puts each module in the chunk of the set of entries (main and every import() target)
// that reach it, so the ~50 modules of a plain `cordon run` were spread over ~30 chunks, each a
// resolve, read and compile of its own for Node's ESM loader (~1 ms CPU apiece here). Every
// other import() target also imports the run command, so those modules share one set, hence
// one chunk: a plain run loads 7 files. The cost: other commands load the run path too.
const hub = join(root, 'src', 'cli', 'commands', 'run.ts')
const lazyTargets = new Set()
const oneRunChunk = {
  name: 'one-run-chunk',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.kind !== 'dynamic-import' || args.pluginData?.hub) return undefined
      const r = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: { hub: true },
      })
      if (r.errors.length || !r.path.startsWith(join(root, 'src'))) return undefined
      lazyTargets.add(r.path)
      return { path: r.path }
    })
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (!lazyTargets.has(args.path) || args.path === hub) return undefined
      return { contents: `${readFileSync(args.path, 'utf8')}\nimport ${JSON.stringify(hub)}\n`, loader: 'ts' }
    })
  },
}
// js-yaml in the run bundle, not from node_modules: Node's CommonJS loader resolved, stat'ed,
// read and compiled its ~20 files at every run that read a YAML policy (~10 ms CPU).
// policy/parse.ts loads it on the first YAML text through createRequire (a run of a built-in
// profile reads none), which esbuild cannot follow: here that call becomes a plain require(),
// which esbuild bundles as a module initialised on that first call. Every import of js-yaml gets
// one copy, its ES build. Not in the split ES bundle: there it would sit in the chunk that every
// command loads (`cordon ps` +10 ms CPU to compile it, uncached), for the few that read YAML.
const PARSE = join(root, 'src', 'policy', 'parse.ts')
const JS_YAML_REQUIRE = "builtin('node:module').createRequire(import.meta.url)('js-yaml')"
const bundledJsYaml = {
  name: 'bundled-js-yaml',
  setup(build) {
    build.onResolve({ filter: /^js-yaml$/ }, async (args) => {
      if (args.pluginData?.jsYaml) return undefined
      const { importer, resolveDir } = args
      const esm = await build.resolve('js-yaml', {
        kind: 'import-statement',
        importer,
        resolveDir,
        pluginData: { jsYaml: true },
      })
      return esm.errors.length ? undefined : { path: esm.path }
    })
    build.onLoad({ filter: /[\\/]policy[\\/]parse\.ts$/ }, (args) => {
      if (args.path !== PARSE) return undefined
      const text = readFileSync(args.path, 'utf8')
      if (!text.includes(JS_YAML_REQUIRE))
        throw new Error(`bundle-cli: ${PARSE} no longer loads js-yaml by ${JS_YAML_REQUIRE}`)
      return { contents: text.replace(JS_YAML_REQUIRE, "require('js-yaml')"), loader: 'ts' }
    })
  },
}
rmSync(BUNDLE_DIR, { recursive: true, force: true })
const options = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['prom-client', 'yaml'],
  // Stack traces of internal errors point at the TypeScript sources under
  // `node --enable-source-maps` (not on by default: reading the map costs every start).
  sourcemap: 'linked',
  sourcesContent: false,
  chunkNames: 'chunk-[name]-[hash]',
  legalComments: 'none',
  // Fewer bytes for V8 to scan and compile at each start (~10% of a plain run's CPU here);
  // identifiers are kept, so stack traces still name the functions.
  minifyWhitespace: true,
  minifySyntax: true,
  // plan/filter.ts (the seccomp compiler) is reached only through plan/lazy-filter.ts's import():
  // a plan whose filter is precompiled never loads it.
  plugins: [lazyFilter, oneRunChunk],
  metafile: values.metafile !== undefined,
  logLevel: 'warning',
}
const result = await esbuild.build({
  ...options,
  entryPoints: { main: join(root, 'src', 'cli', 'main.ts') },
  outdir: BUNDLE_DIR,
})
// `cordon run` as one CommonJS file (esbuild inlines each lazy import() as a module initialised
// on first use: --audit, --backend, the monitor, the seccomp compiler), and its V8 code cache.
// The cache is made in a process of its own after two warm-up runs of /bin/true (the default
// profile, and a YAML policy with the namespaces and view of bench/bwrap-equivalent.yaml), so
// that it holds every function a plain run calls: a cache of the top level only left V8 to
// compile each of them at its first call, ~25 ms CPU of a run (README: "CLI start-up").
const RUN_BUNDLE = join(BUNDLE_DIR, 'run.cjs')
// This build's id, in both run bundles: the plans `cordon run` files for its lean path
// (src/run/plan-cache.ts) are used only by the build that wrote them.
const BUILD_ID = JSON.stringify(randomUUID())
const runOptions = {
  ...options,
  format: 'cjs',
  splitting: false,
  metafile: false,
  // import.meta.url (build/seccomp, rules/, run.cjs) is the bundle's own file URL, as the ES
  // chunks' at the same depth; require('node:url') is a built-in Node has loaded already. Made on
  // first use: a run that never asks (a filed one) runs no URL code (host/launcher.ts).
  define: {
    'import.meta.url': '__cordon_import_meta.url',
    __CORDON_OWN_FILE__: '__filename',
    __CORDON_BUILD__: BUILD_ID,
  },
  banner: {
    js: 'var __cordon_import_meta={get url(){return require("node:url").pathToFileURL(__filename).href}};',
  },
  outExtension: { '.js': '.cjs' },
  outdir: BUNDLE_DIR,
}
await esbuild.build({
  ...runOptions,
  plugins: [lazyFilter, bundledJsYaml],
  entryPoints: { run: join(root, 'src', 'cli', 'run-main.ts') },
})
// `cordon run`'s lean path on its own (src/cli/run-fast.ts): a plan filed by an earlier run
// started with none of the policy, the compiler or the syscall tables loaded.
const FAST_BUNDLE = join(BUNDLE_DIR, 'run-fast.cjs')
const fast = await esbuild.build({
  ...runOptions,
  plugins: [],
  metafile: true,
  entryPoints: { 'run-fast': join(root, 'src', 'cli', 'run-fast.ts') },
})
const fastInputs = Object.keys(Object.values(fast.metafile.outputs).find((o) => o.entryPoint)?.inputs ?? {})
// (The built-in profiles' default actions are a table of three strings, for the exit hints.)
const heavy = fastInputs.filter((f) =>
  /src\/(seccomp\/(?!profile-defaults\.ts$)|policy\/schema|policy\/resolve|plan\/compile)/.test(f),
)
if (heavy.length)
  throw new Error(`bundle-cli: run-fast.cjs reaches the compiler or the policy: ${heavy.join(', ')}`)
warmRunCache()

/** Writes run.cjs.cache (bin/cordon.cjs warmCodeCache) from two runs of /bin/true in a scratch
 * project directory, their output discarded. Without a cache the CLI still runs, compiling as
 * usual: a failure here is reported, not fatal. */
function warmRunCache() {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-bundle-'))
  try {
    chmodSync(dir, 0o755) // the sandbox's own ids enter it: the default profile shows it read-only
    const policy = join(dir, 'policy.yaml')
    writeFileSync(
      policy,
      'namespaces: { user: true, pid: true, mount: true, ipc: true, uts: true, cgroup: true }\n' +
        'network: none\nfilesystem:\n  - ro: /\n  - proc: /proc\n  - dev: /dev\n',
    )
    const runs = [
      ['run', '-q', '--', '/bin/true'],
      ['run', '-q', '--policy', policy, '--', '/bin/true'],
    ]
    const warm = `require(${JSON.stringify(join(root, 'bin', 'cordon.cjs'))}).warmCodeCache(${JSON.stringify(RUN_BUNDLE)}, ${JSON.stringify(runs)})`
    const env = { ...process.env }
    delete env.NODE_OPTIONS // the cache is for V8's default flags: a node of the user's starts with them
    const r = spawnSync(process.execPath, ['-e', warm], {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
      encoding: 'utf8',
    })
    if (r.status !== 0 || !existsSync(`${RUN_BUNDLE}.cache`))
      console.error(
        `bundle-cli: no code cache for ${RUN_BUNDLE} (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`,
      )
    // The lean path's, from two runs of the plan the first warm-up run filed (the same key: this
    // directory, the default profile). Where the run could not file one (no user namespaces on
    // the build host), the cache holds the path up to the miss.
    const fastRuns = [runs[0], runs[0]]
    const f = spawnSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(join(root, 'bin', 'cordon.cjs'))}).warmCodeCache(${JSON.stringify(FAST_BUNDLE)}, ${JSON.stringify(fastRuns)})`,
      ],
      { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000, encoding: 'utf8' },
    )
    if (f.status !== 0 || !existsSync(`${FAST_BUNDLE}.cache`))
      console.error(
        `bundle-cli: no code cache for ${FAST_BUNDLE} (exit ${f.status ?? f.signal}): ${f.stderr.trim()}`,
      )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
// cordon-oci (bin/cordon-oci) on its own, so the CLI's chunks stay as they are: an engine
// starts it several times per container, and each start saves most of the per-module cost.
const OCI_DIR = join(root, 'build', 'src', 'oci-bundle')
rmSync(OCI_DIR, { recursive: true, force: true })
await esbuild.build({
  ...options,
  // Not the CLI's one-run-chunk: it puts what every command shares (errors.ts, ~190 KB with the
  // run path) in one chunk, which `state`, `start`, `kill` and `delete` would load for nothing.
  plugins: [lazyFilter],
  metafile: false,
  entryPoints: { oci: join(root, 'src', 'oci-runtime', 'main.ts') },
  outdir: OCI_DIR,
})
// The same entry as one CommonJS file (esbuild inlines each lazy import() as a module that
// initialises on first use) plus V8's code cache for it: bin/cordon-oci.cjs compiles it with
// vm.Script and the cache, so an engine's `create` pays neither Node's ESM loader (resolve,
// link, module jobs per file) nor V8's parse and compile of the top level (README: "cordon as an
// OCI runtime", start-up). The ES modules above stay for bin/cordon-oci.js and the tests.
const BUILD_PLACEHOLDER = 'cordon-oci build id, set after bundling'.padEnd(64, '.')
const cjs = await esbuild.build({
  ...options,
  format: 'cjs',
  splitting: false,
  sourcemap: false,
  plugins: [lazyFilter],
  // import.meta.url (launcherPath, supervisor.js, build/seccomp) is the bundle's own file URL, as
  // the ES chunk's at the same depth; require('node:url') is a built-in Node has loaded already.
  // __CORDON_OCI_BUILD__: a placeholder, replaced below by a hash of the bundle (its build id:
  // src/oci-runtime/seccomp-cache.ts keeps filters per build).
  define: {
    'import.meta.url': '__cordon_import_meta_url',
    __CORDON_OCI_BUILD__: JSON.stringify(BUILD_PLACEHOLDER),
  },
  banner: { js: 'var __cordon_import_meta_url=require("node:url").pathToFileURL(__filename).href;' },
  entryPoints: { oci: join(root, 'src', 'oci-runtime', 'main.ts') },
  outExtension: { '.js': '.cjs' },
  outdir: OCI_DIR,
  write: false,
})
const { writeCodeCache } = createRequire(import.meta.url)('../bin/cordon-oci.cjs')
for (const f of cjs.outputFiles) {
  if (!f.path.endsWith('.cjs')) {
    writeFileSync(f.path, f.contents)
    continue
  }
  const text = f.text
  if (!text.includes(BUILD_PLACEHOLDER)) throw new Error(`bundle-cli: no build id placeholder in ${f.path}`)
  const id = createHash('sha256').update(text).digest('hex')
  writeFileSync(f.path, text.replaceAll(BUILD_PLACEHOLDER, id))
  const { warm } = await writeCodeCache(f.path)
  if (warm !== true)
    console.warn(`${f.path}.cache: create's warm-up stopped (${warm}); the cache holds what ran`)
}
if (values.metafile) writeFileSync(values.metafile, JSON.stringify(result.metafile))
