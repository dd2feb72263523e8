'use strict'
// The loader bin/cordon.cjs and bin/cordon-oci.cjs share: a CommonJS bundle compiled with the
// V8 code cache made for it at `npm run build`. CommonJS, so that Node never starts its ES
// module loader; the cache, so that V8 neither parses nor compiles what the bundle runs.
//
// FILE.cache holds the bundle's length (u32, little-endian) and bytes, then V8's data. The bundle
// runs from that copy, so that a start reads one file, not two (the run bundle is 490 KB of
// source beside its 1 MB cache: reading and comparing both cost ~3 ms of a run on a slow VM). The
// copy is used only while FILE is as the build left it: the same length, and not changed since
// the cache was written (its mtime not past the cache's; the build writes the cache after the
// bundle, and npm gives both the same). A bundle edited after the build (debugging by hand)
// compiles from FILE as usual, without the cache; V8 itself checks only the source's length, so
// an edit of the same length ran the old code before this check. V8 refuses a cache from another
// Node or other V8 flags by itself: the bundle then compiles as usual, silently. Callers pass
// paths in their package's own build directory only, never from the working directory or the
// environment.
const {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} = require('node:fs')
const { dirname } = require('node:path')
const { createRequire } = require('node:module')
const vm = require('node:vm')

const HEADER = 4

// The function Node's own CommonJS loader wraps a module in: the cache is for this exact text.
const wrap = (source) => `(function (exports, require, module, __filename, __dirname) {${source}\n})`

/** FILE.cache's copy of the bundle and V8 data, while FILE is the bundle it was made from (the
 * same length, not changed since): `state` is stale when FILE changed, absent when there is no
 * cache. */
function cachedDataFor(file) {
  let data
  let cacheMtime
  let fd
  try {
    fd = openSync(`${file}.cache`, 'r')
    cacheMtime = fstatSync(fd).mtimeMs
    data = readFileSync(fd)
  } catch {
    return { state: 'absent' }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  const length = data.length >= HEADER ? data.readUInt32LE(0) : -1
  const end = HEADER + length
  const bundle = statSync(file, { throwIfNoEntry: false })
  const same = length >= 0 && data.length > end && bundle?.size === length && bundle.mtimeMs <= cacheMtime
  return same
    ? { state: 'found', source: data.subarray(HEADER, end), data: data.subarray(end) }
    : { state: 'stale' }
}

/** Compiles the bundle FILE (with its cache unless `cached` is false): the script, its bytes,
 * and what became of FILE.cache: used, rejected (by V8), stale, absent, or off. */
function compile(file, cached = true) {
  const found = cached ? cachedDataFor(file) : { state: 'off' }
  const bytes = found.source ?? readFileSync(file)
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
