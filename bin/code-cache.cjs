'use strict'
// The loader bin/cordon.cjs and bin/cordon-oci.cjs share: a CommonJS bundle compiled with the
// V8 code cache made for it at `npm run build`. CommonJS, so that Node never starts its ES
// module loader; the cache, so that V8 neither parses nor compiles what the bundle runs.
//
// FILE.cache holds the bundle's length (u32, little-endian) and bytes, wrapped as Node wraps a
// CommonJS module, then V8's data (at the next multiple of 8). The bundle runs from that copy,
// so that a start reads one file, not two (the run bundle is 490 KB of source beside its 1 MB
// cache: reading and comparing both cost ~3 ms of a run on a slow VM), and decodes it straight
// into the text V8 compiles:
// wrapping it at each start built and flattened a second copy of the whole source on the V8
// heap (the run bundle's: ~490 KB of new memory touched, and on a VM whose page faults cost
// ~10 µs each that is most of a millisecond, and a scavenge sooner). With a `map` (cordon's
// addon's) the file is mapped rather than read into a new buffer; the text is still copied out
// of it, so nothing reads the mapping once the bundle has compiled. The
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
const vm = require('node:vm')

const HEADER = 4
// V8's data starts at a multiple of 8 in the file, and so in the buffer it is read into (malloc's
// or mmap's, aligned): V8 copies cached data that is not pointer-aligned before it reads it,
// which for the run bundle was another ~600 KB of fresh memory at every start.
const ALIGN = 8
const aligned = (offset) => Math.ceil(offset / ALIGN) * ALIGN

// The function Node's own CommonJS loader wraps a module in: the cache is for this exact text.
const PREFIX = '(function (exports, require, module, __filename, __dirname) {'
const SUFFIX = '\n})'
const wrap = (source) => `${PREFIX}${source}${SUFFIX}`
const PREFIX_BYTES = Buffer.from(PREFIX)
const WRAPPING = PREFIX.length + SUFFIX.length

/** FILE.cache's copy of the bundle and V8 data, while FILE is the bundle it was made from (the
 * same length, not changed since): `state` is stale when FILE changed, absent when there is no
 * cache. With `map` (cordon's addon's: native/spawn-addon.c), the cache is mapped, not read. */
function cachedDataFor(file, map) {
  const bundle = statSync(file, { throwIfNoEntry: false })
  let data
  let cacheMtime
  const mapped = map && bundle ? map(`${file}.cache`) : null
  if (mapped) [data, cacheMtime] = mapped
  else {
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
  }
  const length = data.length >= HEADER ? data.readUInt32LE(0) : -1
  const end = HEADER + length + WRAPPING
  const same =
    length >= 0 &&
    data.length > end &&
    bundle?.size === length &&
    bundle.mtimeMs <= cacheMtime &&
    // A cache of the earlier format (the bytes unwrapped) is stale, not misread.
    PREFIX_BYTES.equals(data.subarray(HEADER, HEADER + PREFIX_BYTES.length))
  return same
    ? { state: 'found', wrapped: data.subarray(HEADER, end), data: data.subarray(aligned(end)) }
    : { state: 'stale' }
}

/** Compiles the bundle FILE (with its cache unless `cached` is false, mapped by `map` when
 * given: cachedDataFor): the script, the text it was compiled from (the bundle wrapped), and
 * what became of FILE.cache: used, rejected (by V8), stale, absent, or off. */
function compile(file, cached = true, map = undefined) {
  const found = cached ? cachedDataFor(file, map) : { state: 'off' }
  const text = found.wrapped ? found.wrapped.toString('utf8') : wrap(readFileSync(file, 'utf8'))
  const script = new vm.Script(text, { filename: file, cachedData: found.data })
  const cache = found.data ? (script.cachedDataRejected ? 'rejected' : 'used') : found.state
  return { script, text, cache }
}

/** Runs a compiled bundle FILE as Node runs a CommonJS module: its exports. Its `require` loads
 * Node's built-in modules itself, and anything else (a package, by the bundle's own place) by
 * node:module's createRequire, made at that moment: loading node:module cost every start ~0.45
 * ms, and a run's bundles require built-ins alone. */
function run(script, file) {
  const module = { exports: {} }
  let own
  const bundleRequire = (id) =>
    id.startsWith('node:') ? require(id) : (own ??= require('node:module').createRequire(file))(id)
  script.runInThisContext().call(module.exports, module.exports, bundleRequire, module, file, dirname(file))
  return module.exports
}

/** compile() then run(): the exports, the script, its text and what became of the cache. */
function load(file, cached = true, map = undefined) {
  const compiled = compile(file, cached, map)
  return { exports: run(compiled.script, file), ...compiled }
}

/** Writes FILE.cache from what `script` (compiled from `text`, compile()'s) has compiled so
 * far, renamed into place whole: a build stopped half-way leaves no cache rather than a cut one. */
function saveCache(file, text, script) {
  const wrapped = Buffer.from(text)
  const header = Buffer.alloc(HEADER)
  header.writeUInt32LE(wrapped.length - WRAPPING, 0)
  const end = HEADER + wrapped.length
  const tmp = `${file}.cache.${process.pid}`
  writeFileSync(
    tmp,
    Buffer.concat([header, wrapped, Buffer.alloc(aligned(end) - end), script.createCachedData()]),
  )
  renameSync(tmp, `${file}.cache`)
}

/** Where V8's data starts in FILE.cache for a bundle of `length` bytes. */
const dataOffset = (length) => aligned(HEADER + length + WRAPPING)

module.exports = { compile, run, load, saveCache, dataOffset }
