'use strict'
// The loader bin/cordon.cjs and bin/cordon-oci.cjs share: a CommonJS bundle compiled with the
// V8 code cache made for it at `npm run build`. CommonJS, so that Node never starts its ES
// module loader; the cache, so that V8 neither parses nor compiles what the bundle runs.
//
// FILE.cache holds the bundle's length (u32, little-endian) and bytes, then V8's data. The copy
// binds the cache to exactly these bytes at the cost of a memcmp: V8 itself checks only the
// source's length (a bundle edited to the same length ran the old code), and hashing the bundle
// (node:zlib's crc32) cost more than the cache saved. V8 refuses a cache from another Node or
// other V8 flags by itself: either way the bundle compiles as usual, silently. Callers pass
// paths in their package's own build directory only, never from the working directory or the
// environment.
const { readFileSync, renameSync, writeFileSync } = require('node:fs')
const { dirname } = require('node:path')
const { createRequire } = require('node:module')
const vm = require('node:vm')

const HEADER = 4

// The function Node's own CommonJS loader wraps a module in: the cache is for this exact text.
const wrap = (source) => `(function (exports, require, module, __filename, __dirname) {${source}\n})`

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

/** Compiles the bundle FILE (with its cache unless `cached` is false): the script, its bytes,
 * and what became of FILE.cache: used, rejected (by V8), stale, absent, or off. */
function compile(file, cached = true) {
  const bytes = readFileSync(file)
  const found = cached ? cachedDataFor(file, bytes) : { state: 'off' }
  const script = new vm.Script(wrap(bytes.toString('utf8')), { filename: file, cachedData: found.data })
  const cache = found.data ? (script.cachedDataRejected ? 'rejected' : 'used') : found.state
  return { script, bytes, cache }
}

/** Runs a compiled bundle FILE as Node runs a CommonJS module: its exports. */
function run(script, file) {
  const module = { exports: {} }
  script
    .runInThisContext()
    .call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  return module.exports
}

/** compile() then run(): the exports, the script, its bytes and what became of the cache. */
function load(file, cached = true) {
  const compiled = compile(file, cached)
  return { exports: run(compiled.script, file), ...compiled }
}

/** Writes FILE.cache from what `script` (compiled from `bytes`) has compiled so far, renamed
 * into place whole: a build stopped half-way leaves no cache rather than a cut one. */
function saveCache(file, bytes, script) {
  const header = Buffer.alloc(HEADER)
  header.writeUInt32LE(bytes.length, 0)
  const tmp = `${file}.cache.${process.pid}`
  writeFileSync(tmp, Buffer.concat([header, bytes, script.createCachedData()]))
  renameSync(tmp, `${file}.cache`)
}

module.exports = { compile, run, load, saveCache }
