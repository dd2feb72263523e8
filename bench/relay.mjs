// The output relay's throughput. A stdout that is a pipe the sandbox could open again by name
// for reading (a plain user's own, or any under --host-root) is replaced by a pipe of cordon's,
// carried into the caller's by a relay outside the sandbox (native/stdio-relay.c). This runs
// `cordon run -- PRODUCER | cat > /dev/null` against bwrap (which hands the caller's pipe over)
// and the bare pipeline, rounds interleaved, medians, in two loads:
//   bulk   `cat` of a file of --size MB (whole pages, 128 KiB writes);
//   small  200,000 writes of 10 bytes by python3 (os.write per line: a buffer each).
// Each variant's start-up (the same run producing nothing) is measured in the same rounds, and
// the load's time is the median time above it; the ratio is cordon's against bwrap's.
// As root the cordon runs use --host-root (the relay then runs, as it does for a plain user);
// run it as a plain user to measure that user's path. NODE_EXTRA_CA_CERTS is unset for the runs
// (it adds ~150 ms to every Node start). CORDON_LAUNCHER=PATH measures another launcher build.
//
//   node bench/relay.mjs [--runs 7] [--size 300] [--json]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin', 'cordon.cjs')
const { values } = benchArgs(import.meta.url, {
  runs: { type: 'string', default: '7' },
  size: { type: 'string', default: '300' },
  json: { type: 'boolean' },
})
const runs = Number(values.runs)
const size = Number(values.size)
if (!(Number.isInteger(runs) && runs >= 1))
  throw new Error(`--runs must be a whole number ≥ 1, got ${values.runs}`)
if (!(size > 0 && size <= 4096)) throw new Error(`--size must be MB from 1 to 4096, got ${values.size}`)

const dir = mkdtempSync(join(tmpdir(), 'cordon-relay-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'big.bin')
const chunk = Buffer.alloc(1 << 20)
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7919) & 255
writeFileSync(file, Buffer.concat(Array.from({ length: size }, () => chunk)))

const hasBwrap = spawnSync('sh', ['-c', 'command -v bwrap']).status === 0
const isRoot = process.getuid?.() === 0
const cordon = `${process.execPath} ${cli} run -q ${isRoot ? '--host-root ' : ''}--`
const bwrap = 'bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev'
const loads = {
  bulk: { producer: `cat ${file}`, bytes: size << 20 },
  small: {
    producer: `python3 -c 'import os\nfor i in range(200000): os.write(1, b"%09d\\n" % i)'`,
    bytes: 2_000_000,
  },
}
const variants = [
  { name: 'bare', prefix: '' },
  ...(hasBwrap ? [{ name: 'bwrap', prefix: bwrap }] : []),
  { name: 'cordon', prefix: cordon },
]
const env = { ...process.env, NODE_EXTRA_CA_CERTS: '' }

/** Milliseconds of one `sh -c SCRIPT`; throws when it fails. */
function timed(script) {
  const start = process.hrtime.bigint()
  const r = spawnSync('sh', ['-c', script], { cwd: dir, env, encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) throw new Error(`bench/relay: \`${script}\` failed (${r.status}): ${r.stderr.trim()}`)
  return ms
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const times = {}
for (const v of variants) for (const load of ['start', ...Object.keys(loads)]) times[`${v.name}/${load}`] = []
for (let round = 0; round < runs; round++) {
  // Rotated from round to round, so that drift hits every variant alike.
  const order = variants.map((_, i) => variants[(i + round) % variants.length])
  for (const v of order) {
    times[`${v.name}/start`].push(timed(`${v.prefix} true | cat > /dev/null`))
    for (const [load, { producer }] of Object.entries(loads))
      times[`${v.name}/${load}`].push(timed(`${v.prefix} ${producer} | cat > /dev/null`))
  }
  if (!values.json && process.stderr.isTTY) process.stderr.write(`round ${round + 1}/${runs}\r`)
}

const rows = []
for (const [load, { bytes }] of Object.entries(loads))
  for (const v of variants) {
    const start = median(times[`${v.name}/start`])
    const total = median(times[`${v.name}/${load}`])
    const above = Math.max(total - start, 0.001)
    rows.push({
      load,
      variant: v.name,
      totalMs: total,
      startMs: start,
      aboveMs: above,
      mbPerS: bytes / 1e6 / (above / 1000),
    })
  }
for (const row of rows) {
  const peer = rows.find((r) => r.load === row.load && r.variant === 'bwrap')
  row.vsBwrap = peer ? row.aboveMs / peer.aboveMs : null
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ runs, sizeMB: size, asRoot: isRoot, rows }, null, 2)}\n`)
} else {
  const f = (x, d = 1) => x.toFixed(d)
  process.stdout.write(
    `relay throughput, ${runs} rounds, medians (${isRoot ? 'root, --host-root' : 'plain user'}; bulk ${size} MB)\n` +
      `load   variant  total ms  start ms  above ms     MB/s  vs bwrap\n`,
  )
  for (const r of rows)
    process.stdout.write(
      `${r.load.padEnd(6)} ${r.variant.padEnd(7)} ${f(r.totalMs).padStart(9)} ${f(r.startMs).padStart(9)} ` +
        `${f(r.aboveMs).padStart(9)} ${f(r.mbPerS).padStart(8)} ${r.vsBwrap === null ? '' : `${f(r.vsBwrap, 2)}×`.padStart(9)}\n`,
    )
}
