#!/usr/bin/env node
'use strict'
// cordon-oci's Node half, as the C entry point (native/oci-fast.c) runs it for create, run, exec
// and the rest: the runtime bundled into one CommonJS file (scripts/bundle-cli.mjs) and compiled
// with V8's code cache made for it at `npm run build`. CommonJS, so Node never starts its ESM
// loader; the cache, so V8 neither parses nor compiles the bundle's top level. An engine starts
// the runtime several times per container: this is most of Node's share of each start.
//
// Both files are read from this package's own build directory only (root runs this; the path
// comes from this file's real location, never from the working directory or the environment).
// A cache is used only for the exact bytes it was made from (it holds a copy), and V8 refuses
// one from another Node or other V8 flags by itself: either way the bundle compiles as usual,
// silently. A checkout built without esbuild runs the ES modules
// (bin/cordon-oci.js).
const { readFileSync, writeFileSync } = require('node:fs')
const { dirname, join } = require('node:path')
const { createRequire } = require('node:module')
const vm = require('node:vm')

const BUNDLE = join(__dirname, '..', 'build', 'src', 'oci-bundle', 'oci.cjs')

// The function Node's own CommonJS loader wraps a module in: the cache is for this exact text.
const wrap = (source) => `(function (exports, require, module, __filename, __dirname) {${source}\n})`

// FILE.cache holds the bundle's length (u32, little-endian) and bytes, then V8's data. The copy
// binds the cache to exactly these bytes at the cost of a memcmp: V8 itself checks only the
// source's length, and hashing the bundle here (node:zlib's crc32) cost more than the cache saved.
const HEADER = 4

/** Compiles and runs the bundle FILE; `cache` says what became of FILE.cache: used, rejected (by
 * V8: another Node, other V8 flags), stale (made for other bytes), or absent. */
function load(file) {
  const bytes = readFileSync(file)
  let cachedData
  let cache = 'absent'
  try {
    const data = readFileSync(`${file}.cache`)
    const end = HEADER + bytes.length
    if (
      data.length > end &&
      data.readUInt32LE(0) === bytes.length &&
      bytes.equals(data.subarray(HEADER, end))
    )
      cachedData = data.subarray(end)
    else cache = 'stale'
  } catch {}
  const script = new vm.Script(wrap(bytes.toString('utf8')), { filename: file, cachedData })
  if (cachedData) cache = script.cachedDataRejected ? 'rejected' : 'used'
  const module = { exports: {} }
  script
    .runInThisContext()
    .call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  return { exports: module.exports, cache }
}

/** Build step (scripts/bundle-cli.mjs): FILE.cache for the bundle FILE, made after the bundle
 * ran its warmUp() (src/oci-runtime/warm-up.ts: create's code on a sample container in a scratch
 * directory, nothing started), so that it holds create's functions compiled as well as the top
 * level: V8 then compiles none of them at each create (README, start-up). A warm-up that fails
 * (a build as a plain user, whose containers need a user namespace) leaves a cache of what ran
 * until then; `warm` is true, or why the warm-up stopped. */
async function writeCodeCache(file) {
  const bytes = readFileSync(file)
  const script = new vm.Script(wrap(bytes.toString('utf8')), { filename: file })
  let warm = true
  try {
    const module = { exports: {} }
    script
      .runInThisContext()
      .call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
    await module.exports.warmUp()
  } catch (error) {
    warm = error?.message ?? String(error)
  }
  const header = Buffer.alloc(HEADER)
  header.writeUInt32LE(bytes.length, 0)
  writeFileSync(`${file}.cache`, Buffer.concat([header, bytes, script.createCachedData()]))
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
  if (runtime) runtime.main(process.argv.slice(2)).then((code) => process.exit(code))
  else import('./cordon-oci.js')
}
