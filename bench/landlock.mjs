// Cost of cordon's Landlock rules, side by side in one run, in the same sandbox (default
// profile) with and without the Landlock steps: open+read+close of a file 16 directories deep,
// and `find /usr` (a walk over tens of thousands of entries). Medians of interleaved rounds.
// A third plan adds the best rule any policy could have for the opened files — every right on
// their own directory, so the kernel's walk stops one level up: the floor of having Landlock.
// A fourth grants every right at cordon's own rule (the bind of the tree): if cordon's rights
// made the kernel walk past its rule, cordon would cost more than that plan; what that plan
// costs over the floor is the walk from the file up to the rule, which no right can shorten.
// Times are CPU time (user+sys) per operation, so a loaded machine still compares.
//
//   node bench/landlock.mjs [--rounds N] [--json]
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { compilePlan, encodePlan, resolvePolicy, callerContext } = await import(
  join(root, 'build', 'src', 'index.js')
)
const { values } = benchArgs(import.meta.url, {
  rounds: { type: 'string', default: '11' },
  json: { type: 'boolean' },
})
const rounds = Number(values.rounds)
const launcher = join(root, 'build', 'native', 'cordon-exec')
const work = mkdtempSync(join(tmpdir(), 'cordon-bench-landlock-'))
// The sandbox runs as an unprivileged id even for root callers: the tree must be world-readable.
chmodSync(work, 0o755)
const deep = join(work, ...Array.from({ length: 16 }, (_, i) => `d${i}`))
const shallow = join(work, 's0', 's1', 's2')
for (const d of [deep, shallow]) {
  mkdirSync(d, { recursive: true })
  writeFileSync(join(d, 'file'), 'x'.repeat(64))
}
const loop = join(work, 'fs-loop')
execFileSync('cc', ['-O2', '-o', loop, join(root, 'bench', 'fs-loop.c')])

const resolved = resolvePolicy(
  { policy: { extends: ['default'], filesystem: [{ ro: work }] }, baseDir: work, label: 'bench' },
  work,
)
const withLandlock = compilePlan(resolved, { ...callerContext(), cwd: work })
const everything = ['rw', 'ioctl-dev', 'devices']
const bestRules = resolvePolicy(
  {
    policy: {
      extends: ['default'],
      filesystem: [{ ro: work }],
      landlock: { paths: [deep, shallow].map((path) => ({ path, access: everything })) },
    },
    baseDir: work,
    label: 'bench',
  },
  work,
)
const best = compilePlan(bestRules, { ...callerContext(), cwd: work })
const sameRuleAll = compilePlan(
  resolvePolicy(
    {
      policy: {
        extends: ['default'],
        filesystem: [{ ro: work }],
        landlock: { paths: [{ path: work, access: everything }] },
      },
      baseDir: work,
      label: 'bench',
    },
    work,
  ),
  { ...callerContext(), cwd: work },
)
const without = { ...withLandlock, ops: withLandlock.ops.filter((o) => !o.op.startsWith('landlock')) }
const plans = {
  without: join(work, 'without.plan'),
  with: join(work, 'with.plan'),
  best: join(work, 'best.plan'),
  sameRule: join(work, 'same-rule.plan'),
}
writeFileSync(plans.without, encodePlan(without))
writeFileSync(plans.with, encodePlan(withLandlock))
writeFileSync(plans.best, encodePlan(best))
writeFileSync(plans.sameRule, encodePlan(sameRuleAll))

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
// find exits 1 on the few directories DAC already hides (e.g. polkit's rules.d): that is fine.
const time = (plan, argv) => {
  const t = process.hrtime.bigint()
  const r = spawnSync(launcher, [plan, '--', ...argv], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 1 << 20,
  })
  if (r.status !== 0 && r.status !== 1) throw new Error(`${argv[0]} exited ${r.status}`)
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, out: r.stdout }
}
const s = {
  openWithout: [],
  openWith: [],
  shallowWithout: [],
  shallowWith: [],
  shallowBest: [],
  openBest: [],
  shallowSame: [],
  openSame: [],
  findWithout: [],
  findWith: [],
}
for (let i = 0; i < rounds; i++) {
  s.shallowWithout.push(Number(time(plans.without, [loop, join(shallow, 'file'), '200000']).out))
  s.shallowWith.push(Number(time(plans.with, [loop, join(shallow, 'file'), '200000']).out))
  s.shallowBest.push(Number(time(plans.best, [loop, join(shallow, 'file'), '200000']).out))
  s.shallowSame.push(Number(time(plans.sameRule, [loop, join(shallow, 'file'), '200000']).out))
  s.openWithout.push(Number(time(plans.without, [loop, join(deep, 'file'), '200000']).out))
  s.openWith.push(Number(time(plans.with, [loop, join(deep, 'file'), '200000']).out))
  s.openBest.push(Number(time(plans.best, [loop, join(deep, 'file'), '200000']).out))
  s.openSame.push(Number(time(plans.sameRule, [loop, join(deep, 'file'), '200000']).out))
  s.findWithout.push(time(plans.without, ['find', '/usr', '-xdev', '-printf', '']).ms)
  s.findWith.push(time(plans.with, ['find', '/usr', '-xdev', '-printf', '']).ms)
}
const pct = (a, b) => Number(((a / b - 1) * 100).toFixed(2))
const rows = [
  {
    work: 'open+read+close, 4 levels below the rule (CPU ns/op)',
    without: median(s.shallowWithout),
    with: median(s.shallowWith),
    best: median(s.shallowBest),
    same: median(s.shallowSame),
  },
  {
    work: 'open+read+close, 17 levels below the rule (CPU ns/op)',
    without: median(s.openWithout),
    with: median(s.openWith),
    best: median(s.openBest),
    same: median(s.openSame),
  },
  {
    work: 'find /usr (ms)',
    without: Number(median(s.findWithout).toFixed(1)),
    with: Number(median(s.findWith).toFixed(1)),
  },
].map((r) => ({
  ...r,
  overheadPct: pct(r.with, r.without),
  ...(r.best !== undefined
    ? {
        floorPct: pct(r.best, r.without),
        overFloorPct: pct(r.with, r.best),
        depthPct: pct(r.same, r.best),
        rightsPct: pct(r.with, r.same),
      }
    : {}),
}))
rmSync(work, { recursive: true, force: true })
if (values.json) console.log(JSON.stringify({ version: 1, rounds, rows }, null, 2))
else {
  console.log(`Landlock cost, default profile, median of ${rounds} interleaved rounds\n`)
  console.log(
    "| work | without Landlock | best possible rule (floor) | every right at cordon's rule | cordon default | overhead | floor | over the floor | of which depth | of which rights |",
  )
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  const cell = (v, suffix = '') => (v === undefined ? '-' : `${v}${suffix}`)
  for (const r of rows)
    console.log(
      `| ${r.work} | ${r.without} | ${cell(r.best)} | ${cell(r.same)} | ${r.with} | ${r.overheadPct}% | ${cell(r.floorPct, '%')} | ${cell(r.overFloorPct, '%')} | ${cell(r.depthPct, '%')} | ${cell(r.rightsPct, '%')} |`,
    )
}
