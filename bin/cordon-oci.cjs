#!/usr/bin/env node
'use strict'
// cordon-oci's Node half, as the C entry point (native/oci-fast.c) runs it for create, run, exec
// and the rest: the runtime bundled into one CommonJS file (scripts/bundle-cli.mjs) and compiled
// with V8's code cache made for it at `npm run build`. CommonJS, so Node never starts its ESM
// loader; the cache, so V8 neither parses nor compiles the bundle's top level. An engine starts
// the runtime several times per container: this is most of Node's share of each start.
//
// Both files are read from this package's own build directory only (root runs this; the path
// comes from this file's real location, never from the working directory or the environment);
// the cache's format and checks are bin/code-cache.cjs's. A checkout built without esbuild runs
// the ES modules (bin/cordon-oci.js).
const { join } = require('node:path')
const { compile, load, run, saveCache } = require('./code-cache.cjs')

const BUNDLE = join(__dirname, '..', 'build', 'src', 'oci-bundle', 'oci.cjs')

/** Build step (scripts/bundle-cli.mjs): FILE.cache for the bundle FILE, made after the bundle
 * ran its warmUp() (src/oci-runtime/warm-up.ts: create's code on a sample container in a scratch
 * directory, nothing started), so that it holds create's functions compiled as well as the top
 * level: V8 then compiles none of them at each create (README, start-up). A warm-up that fails
 * (a build as a plain user, whose containers need a user namespace) leaves a cache of what ran
 * until then; `warm` is true, or why the warm-up stopped. */
async function writeCodeCache(file) {
  const { script, text } = compile(file, false)
  let warm = true
  try {
    await run(script, file).warmUp()
  } catch (error) {
    warm = error?.message ?? String(error)
  }
  saveCache(file, text, script)
  return { warm }
}

module.exports = { BUNDLE, load, writeCodeCache }

if (require.main === module) {
  let runtime
  try {
    runtime = load(BUNDLE).exports
  } catch (error) {
    if (error?.code !== 'ENOENT' || error.path !== BUNDLE) {
      process.stderr.write(
        `cordon-oci: cannot load the runtime (${error?.message}); run \`npm run build\` in the package\n`,
      )
      process.exit(1)
    }
  }
  if (runtime) runtime.main(runtime.rawArgs?.() ?? process.argv.slice(2)).then((code) => process.exit(code))
  else import('./cordon-oci.js')
}
