// Cost of cordon's seccomp filter, side by side in one run:
//  1. a syscall-heavy loop (getppid, read of /dev/zero, openat/close) in the same sandbox with
//     cordon's `default` filter and with no filter: median ns per iteration and the overhead;
//  2. BPF instructions per syscall for the same policy compiled by cordon and by libseccomp
//     (Debian's libseccomp-dev, with and without its binary-tree optimization), weighted by a
//     recorded syscall mix (bench/syscall-mix.json);
//  3. what installing each of those programs costs the kernel at a sandbox's start
//     (bench/filter-load.c), beside a one-instruction filter.
//
//   node bench/seccomp.mjs [--rounds N] [--oci PROFILE.json] [--json]
// Part 2 compiles cordon's default policy and Docker's default.json (Debian's
// golang-github-docker-docker-dev, when installed), or the OCI/Docker profile given by --oci.
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const lib = (p) => import(join(root, 'build', 'src', p))
const { compilePlan, encodePlan, resolvePolicy, callerContext } = await lib('index.js')
const { resolveSeccomp } = await lib('seccomp/resolve.js')
const { compileSeccomp, leafFor } = await lib('seccomp/compile.js')
const { entryPoints, ARCHES } = await lib('seccomp/arch.js')
const { decode, interpret } = await lib('seccomp/bpf.js')

const { values } = benchArgs(import.meta.url, {
  rounds: { type: 'string', default: '15' },
  oci: { type: 'string' },
  json: { type: 'boolean' },
})
const { importOci, parseOci } = await lib('seccomp/oci.js')
const rounds = Number(values.rounds)
const work = mkdtempSync(join(tmpdir(), 'cordon-bench-seccomp-'))
// Root's sandboxes run as an unprivileged id range: they must enter the directory and run the loop.
chmodSync(work, 0o755)
const launcher = join(root, 'build', 'native', 'cordon-exec')
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// 1. The loop, with and without the filter.
const loop = join(work, 'syscall-loop')
execFileSync('cc', ['-O2', '-o', loop, join(root, 'bench', 'syscall-loop.c')])
const policy = { extends: ['default'], filesystem: [{ ro: work }] }
const resolved = resolvePolicy({ policy, baseDir: work, label: 'bench' }, work)
const withFilter = compilePlan(resolved, { ...callerContext(), cwd: work })
const noFilter = { ...withFilter, ops: withFilter.ops.filter((o) => o.op !== 'seccomp') }
// A one-instruction `ret ALLOW` filter: what the kernel charges for having any filter at all.
const allowAll = Buffer.from([0x06, 0, 0, 0, 0x00, 0x00, 0xff, 0x7f])
const trivial = {
  ...withFilter,
  ops: withFilter.ops.map((o) => (o.op === 'seccomp' ? { ...o, program: allowAll } : o)),
}
const plans = {
  filtered: join(work, 'filtered.plan'),
  unfiltered: join(work, 'unfiltered.plan'),
  trivial: join(work, 'trivial.plan'),
}
writeFileSync(plans.filtered, encodePlan(withFilter))
writeFileSync(plans.unfiltered, encodePlan(noFilter))
writeFileSync(plans.trivial, encodePlan(trivial))
const samples = { filtered: [], unfiltered: [], trivial: [] }
for (let i = 0; i < rounds; i++)
  for (const kind of ['unfiltered', 'trivial', 'filtered']) {
    const out = execFileSync(launcher, [plans[kind], '--', loop, '300000'], { encoding: 'utf8' })
    samples[kind].push(Number(out.trim()))
  }
const pct = (a, b) => Number(((a / b - 1) * 100).toFixed(2))
const loopRow = {
  unfilteredNs: median(samples.unfiltered),
  trivialNs: median(samples.trivial),
  filteredNs: median(samples.filtered),
  overheadPct: pct(median(samples.filtered), median(samples.unfiltered)),
  kernelFixedPct: pct(median(samples.trivial), median(samples.unfiltered)),
  filterOnlyPct: pct(median(samples.filtered), median(samples.trivial)),
}

// 2. Instructions per syscall: cordon vs libseccomp on the same decisions.
const mix = JSON.parse(readFileSync(join(root, 'bench', 'syscall-mix.json'), 'utf8')).counts
// Docker's own default profile, as Debian ships it (golang-github-docker-docker-dev).
const DOCKER_DEFAULT = '/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json'
const ociPath = values.oci ?? (existsSync(DOCKER_DEFAULT) ? DOCKER_DEFAULT : undefined)
const policies = [{ name: "cordon's default policy", spec: resolveSeccomp(resolved.seccomp) }]
if (ociPath)
  policies.push({
    name: ociPath === DOCKER_DEFAULT ? "Docker's default.json" : ociPath,
    spec: resolveSeccomp([importOci(parseOci(readFileSync(ociPath, 'utf8')), { origin: ociPath }).layer]),
  })
const arches = entryPoints('x64')
const native = ARCHES.x86_64
function weighted(prog) {
  let cost = 0
  let total = 0
  let worst = 0
  for (const [name, count] of Object.entries(mix)) {
    const nr = native.table[name]
    if (nr === undefined) continue
    const n = interpret(prog, { nr, arch: native.audit, args: [] }).path.length
    cost += count * n
    total += count
  }
  for (const nr of Object.values(native.table))
    worst = Math.max(worst, interpret(prog, { nr, arch: native.audit, args: [] }).path.length)
  return { weightedAverage: Number((cost / total).toFixed(2)), worst }
}

const helper = join(work, 'libseccomp-export')
const haveLibseccomp =
  spawnSync('cc', ['-O2', '-o', helper, join(root, 'bench', 'libseccomp-export.c'), '-lseccomp']).status === 0
const actionText = (a) => (a.kind === 'errno' ? `errno:${a.errno}` : a.kind)
/** Every syscall's decision, in the helper's line format: NAME ACTION [ARG OP VALUE MASK]... */
function decisions(spec) {
  const lines = []
  for (const name of new Set(arches.flatMap((a) => Object.keys(a.table)))) {
    const leaf = leafFor(spec, name)
    lines.push(`${name} ${actionText(leaf.fallback)}`)
    for (const check of leaf.checks) {
      // libseccomp takes one value per comparison: `in` becomes one rule per value.
      const variants =
        check.args.length === 1 && check.args[0].op === 'in'
          ? check.args[0].values.map((v) => [{ ...check.args[0], op: 'eq', value: v }])
          : [check.args]
      for (const args of variants)
        lines.push(
          `${name} ${actionText(check.action)} ${args.map((c) => `${c.index} ${c.op} ${c.value} ${c.mask ?? 0}`).join(' ')}`,
        )
    }
  }
  return `${actionText(spec.defaultAction)}\n${lines.join('\n')}\n`
}
const instructions = policies.map(({ name, spec }) => {
  const rows = [
    {
      compiler: 'cordon (weight-balanced tree, mix-aware)',
      ...weighted(decode(compileSeccomp(spec, arches, { frequencies: mix }).program)),
    },
    { compiler: 'cordon (no frequency profile)', ...weighted(decode(compileSeccomp(spec, arches).program)) },
  ]
  if (haveLibseccomp)
    for (const [label, mode] of [
      ['libseccomp 2.5 (binary tree)', 'tree'],
      ['libseccomp 2.5 (linear)', 'linear'],
    ]) {
      const out = join(work, `${mode}.bpf`)
      execFileSync(helper, [mode, out], { input: decisions(spec) })
      rows.push({ compiler: label, ...weighted(decode(readFileSync(out))) })
    }
  return { policy: name, rows }
})

// 3. What installing the filter costs at every sandbox's start: the kernel copies, checks,
// converts and JIT-compiles the whole program, whatever the calls it will see. The same
// decisions (cordon's default policy) compiled each way, interleaved in fresh children.
const loadRounds = Math.max(50, rounds * 20)
const loader = join(work, 'filter-load')
execFileSync('cc', ['-O2', '-o', loader, join(root, 'bench', 'filter-load.c')])
const defaultSpec = policies[0].spec
const programs = [
  { name: 'allow-all (1 instruction: the fixed cost)', bytes: allowAll },
  { name: 'cordon', bytes: compileSeccomp(defaultSpec, arches).program },
  {
    name: 'cordon without its optimizer',
    bytes: compileSeccomp(defaultSpec, arches, { optimize: false }).program,
  },
  {
    name: 'cordon, as `cordon run` installs it (the network layer added)',
    bytes: withFilter.ops.find((o) => o.op === 'seccomp').program,
  },
]
if (haveLibseccomp)
  for (const [label, mode] of [
    ['libseccomp 2.5 (binary tree)', 'tree'],
    ['libseccomp 2.5 (linear)', 'linear'],
  ]) {
    const out = join(work, `load-${mode}.bpf`)
    execFileSync(helper, [mode, out], { input: decisions(defaultSpec) })
    programs.push({ name: label, bytes: readFileSync(out) })
  }
const files = programs.map((p, i) => {
  const file = join(work, `load-${i}.bpf`)
  writeFileSync(file, p.bytes)
  return file
})
const loadLines = execFileSync(loader, [String(loadRounds), ...files], { encoding: 'utf8' })
  .trim()
  .split('\n')
const installs = programs.map((p, i) => ({
  program: p.name,
  instructions: p.bytes.length / 8,
  medianUs: median(loadLines[i].split(' ').map(Number)),
}))

const result = { version: 1, loop: loopRow, rounds, instructions, installs, libseccomp: haveLibseccomp }
if (values.json) console.log(JSON.stringify(result, null, 2))
else {
  console.log(`syscall loop (getppid + read + openat/close), median of ${rounds} rounds, same sandbox\n`)
  console.log('| filter | ns per iteration | vs none | vs allow-all |')
  console.log('|---|---:|---:|---:|')
  console.log(`| none | ${loopRow.unfilteredNs} | - | - |`)
  console.log(
    `| allow-all (1 instruction: the kernel's fixed cost) | ${loopRow.trivialNs} | ${loopRow.kernelFixedPct}% | - |`,
  )
  console.log(
    `| cordon default | ${loopRow.filteredNs} | ${loopRow.overheadPct}% | ${loopRow.filterOnlyPct}% |`,
  )
  console.log('\nBPF instructions per syscall, x86_64, weighted by bench/syscall-mix.json\n')
  console.log('| policy | compiler | weighted average | worst |')
  console.log('|---|---|---:|---:|')
  for (const { policy, rows } of instructions)
    for (const r of rows) console.log(`| ${policy} | ${r.compiler} | ${r.weightedAverage} | ${r.worst} |`)
  console.log(
    `\nInstalling the filter (seccomp(SET_MODE_FILTER) in a fresh child), cordon's default policy, median of ${loadRounds}\n`,
  )
  console.log('| program | instructions | µs per install |')
  console.log('|---|---:|---:|')
  for (const r of installs) console.log(`| ${r.program} | ${r.instructions} | ${r.medianUs} |`)
  if (!haveLibseccomp)
    console.log('\n(libseccomp-dev not installed: apt-get install libseccomp-dev for the comparison)')
}
