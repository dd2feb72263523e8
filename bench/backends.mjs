// One policy (the default profile, a writable data directory) on each backend: cordon's
// launcher, runc and gVisor's runsc, side by side in one run. Start-up (start to exit of
// /bin/true), a syscall-heavy loop (bench/syscall-loop.c: getppid, a 1-byte read, open+close),
// path-walk-heavy file access (bench/fs-loop.c: open+read+close of a file 16 directories deep
// on a host bind) and sequential I/O (bench/io-loop.c: write, fsync and read back 64 MiB on a
// host bind). Each backend starts from a prebuilt artifact — a compiled plan for cordon-exec, an
// OCI bundle for the runtimes — so only the runtime is measured. Rounds are interleaved; we
// report medians and the ratio to native. The data behind `cordon advise`. Needs root (runsc).
// NODE_EXTRA_CA_CERTS does not matter here (no node start is timed).
//
//   node bench/backends.mjs [--rounds N] [--json]
import { execFileSync, spawn as spawnChild, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { callerContext, compilePlan, encodePlan, resolvePolicy } = await import(
  join(root, 'build', 'src', 'index.js')
)
const { backendConfig } = await import(join(root, 'build', 'src', 'backends', 'runtime.js'))
const { writeExport } = await import(join(root, 'build', 'src', 'export', 'model.js'))
const { stringifyOci } = await import(join(root, 'build', 'src', 'seccomp', 'oci.js'))
const { values } = benchArgs(import.meta.url, {
  rounds: { type: 'string', default: '15' },
  json: { type: 'boolean' },
})
const rounds = Number(values.rounds)
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
if (process.getuid() !== 0 || !has('runc') || !has('runsc')) {
  console.error('bench/backends needs root, runc and runsc (apt-get install runc runsc)')
  process.exit(2)
}

const work = mkdtempSync(join(tmpdir(), 'cordon-bench-backends-'))
const bin = join(work, 'bin')
const data = join(work, 'data')
const deep = join(data, ...Array.from({ length: 16 }, (_, i) => `d${i}`))
mkdirSync(bin)
mkdirSync(deep, { recursive: true })
writeFileSync(join(deep, 'file'), 'x'.repeat(64))
for (const prog of ['syscall-loop', 'fs-loop', 'io-loop'])
  execFileSync('cc', ['-O2', '-o', join(bin, prog), join(root, 'bench', `${prog}.c`)])

const resolved = resolvePolicy(
  {
    policy: { extends: ['default'], filesystem: [{ ro: bin }, { rw: data }] },
    baseDir: work,
    label: 'bench',
  },
  work,
)
const ctx = { ...callerContext(), cwd: work }

const WORKLOADS = [
  { name: 'start-up: /bin/true', unit: 'ms', lower: true, argv: ['/bin/true'] },
  {
    name: 'syscall-heavy: getppid + read + open/close',
    unit: 'ns/iter',
    lower: true,
    argv: [join(bin, 'syscall-loop'), '20000'],
  },
  {
    name: 'file access: open+read+close, 16 dirs deep',
    unit: 'ns/op',
    lower: true,
    argv: [join(bin, 'fs-loop'), join(deep, 'file'), '5000'],
  },
  {
    name: 'sequential I/O: write+fsync+read 64 MiB',
    unit: 'MiB/s',
    lower: false,
    argv: [join(bin, 'io-loop'), join(data, 'io'), '64'],
  },
]

/** Each backend prepares an artifact per workload and runs it, resolving to its stdout. */
const BACKENDS = [
  {
    name: 'native (cordon-exec)',
    prepare(argv, i) {
      const plan = join(work, `w${i}.plan`)
      writeFileSync(plan, encodePlan(compilePlan(resolved, ctx)))
      return [join(root, 'build', 'native', 'cordon-exec'), [plan, '--', ...argv]]
    },
  },
  ...['runc', 'runsc'].map((program) => ({
    name: program === 'runc' ? 'runc' : 'gVisor (runsc, ptrace platform)',
    prepare(argv, i) {
      const bundle = join(work, `${program}-w${i}`)
      const { config, files } = backendConfig(resolved, argv, 0, 0, work)
      writeExport(bundle, [
        { kind: 'file', path: 'config.json', content: stringifyOci(config) },
        { kind: 'dir', path: 'rootfs' },
        ...files,
      ])
      let n = 0
      const flags = program === 'runsc' ? ['--oci-seccomp', '--network=none'] : []
      return () => [program, [...flags, 'run', '--bundle', bundle, `cordon-bench-${process.pid}-${i}-${n++}`]]
    },
  })),
]

function timed(cmd, args) {
  return new Promise((resolve, reject) => {
    const t = performance.now()
    const out = []
    const child = spawnChild(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: work })
    child.stdout.on('data', (b) => out.push(b))
    child.once('error', reject)
    child.once('close', (code) =>
      code === 0
        ? resolve({ ms: performance.now() - t, stdout: Buffer.concat(out).toString() })
        : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`)),
    )
  })
}

const artifacts = BACKENDS.map((b) => WORKLOADS.map((w, i) => b.prepare(w.argv, i)))
const commandOf = (a) => (typeof a === 'function' ? a() : a)
const samples = BACKENDS.map(() => WORKLOADS.map(() => []))
for (const a of artifacts.flat()) await timed(...commandOf(a)) // warm caches
for (let r = 0; r < rounds; r++) {
  for (const w of WORKLOADS.keys())
    for (const [b] of BACKENDS.entries()) {
      const { ms, stdout } = await timed(...commandOf(artifacts[b][w]))
      samples[b][w].push(w === 0 ? ms : Number(stdout.trim()))
    }
  if (process.stderr.isTTY) process.stderr.write(`\rround ${r + 1}/${rounds}`)
}
if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K')
rmSync(work, { recursive: true, force: true })

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const rows = WORKLOADS.map((w, i) => {
  const base = median(samples[0][i])
  return {
    workload: w.name,
    unit: w.unit,
    backends: BACKENDS.map((b, k) => {
      const m = median(samples[k][i])
      // Always "times the cost of native": a throughput ratio is inverted so >1 means slower.
      return {
        backend: b.name,
        median: Number(m.toFixed(1)),
        vsNative: Number((w.lower ? m / base : base / m).toFixed(2)),
      }
    }),
  }
})
if (values.json) console.log(JSON.stringify({ version: 1, rounds, rows }, null, 2))
else {
  console.log(`the default profile on each backend, ${rounds} interleaved rounds, medians (× native cost)\n`)
  console.log(`| workload | ${BACKENDS.map((b) => b.name).join(' | ')} |`)
  console.log(`|---|${BACKENDS.map(() => '---:').join('|')}|`)
  for (const r of rows)
    console.log(
      `| ${r.workload} (${r.unit}) | ${r.backends.map((b) => `${b.median} (${b.vsNative}×)`).join(' | ')} |`,
    )
}
