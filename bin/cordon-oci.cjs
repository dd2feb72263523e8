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
// A cache is used only for the exact bytes it was made from (a CRC-32 and length the build
// writes before it), and V8 refuses one from another Node or other flags by itself: either way
// the bundle compiles as usual, silently. A checkout built without esbuild runs the ES modules
// (bin/cordon-oci.js).
const { readFileSync, writeFileSync } = require('node:fs')
const { dirname, join } = require('node:path')
const { createRequire } = require('node:module')
const vm = require('node:vm')

const BUNDLE = join(__dirname, '..', 'build', 'src', 'oci-bundle', 'oci.cjs')
const HEADER = 8 // u32 CRC-32 and u32 length of the bundle, little-endian, then V8's data

// The function Node's own CommonJS loader wraps a module in: the cache is for this exact text.
const wrap = (source) => `(function (exports, require, module, __filename, __dirname) {${source}\n})`

/** The header binding a cache to the bundle's bytes; undefined without zlib.crc32 (Node < 20.15),
 * and then no cache is written or read. */
function stamp(bytes) {
  const { crc32 } = require('node:zlib')
  if (typeof crc32 !== 'function') return undefined
  const header = Buffer.alloc(HEADER)
  header.writeUInt32LE(crc32(bytes) >>> 0, 0)
  header.writeUInt32LE(bytes.length, 4)
  return header
}

/** Compiles and runs the bundle FILE; `cache` says what became of FILE.cache: used, rejected (by
 * V8: another Node, other flags), stale (made for other bytes), absent, or off (no zlib.crc32). */
function load(file) {
  const bytes = readFileSync(file)
  const header = stamp(bytes)
  let cachedData
  let cache = header ? 'absent' : 'off'
  if (header)
    try {
      const data = readFileSync(`${file}.cache`)
      if (data.length > HEADER && data.subarray(0, HEADER).equals(header)) cachedData = data.subarray(HEADER)
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

/** Build step (scripts/bundle-cli.mjs): FILE.cache for the bundle FILE. Only the top level is
 * compiled into it: a cache made after a whole `create` (every function it ran) was larger and
 * within noise of this one in CPU time (README). */
function writeCodeCache(file) {
  const bytes = readFileSync(file)
  const header = stamp(bytes)
  if (!header) return
  const script = new vm.Script(wrap(bytes.toString('utf8')), { filename: file })
  writeFileSync(`${file}.cache`, Buffer.concat([header, script.createCachedData()]))
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
