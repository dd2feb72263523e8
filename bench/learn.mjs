// Cost of learning, side by side in one run (medians over --rounds, interleaved): each workload
// runs bare, traced by `cordon learn`'s tracer (seccomp user notification answered by the
// launcher, one record per distinct call, streamed to Node), and under `strace -f -o /dev/null`
// (a ptrace stop at every syscall entry and exit). Overhead = traced − bare; the target is
// cordon's overhead ≤ half of strace's.
//
//   node bench/learn.mjs [--rounds N] [--json]
// Unset NODE_EXTRA_CA_CERTS first: it adds ~150 ms to each Node start.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const lib = (p) => import(join(root, 'build', 'src', p))
const { tracedRun } = await lib('learn/learn.js')
const { policyFromFlags } = await lib('cli/policy-flags.js')

const { values } = benchArgs(import.meta.url, {
  rounds: { type: 'string', default: '5' },
  json: { type: 'boolean' },
})
const rounds = Number(values.rounds)
const work = mkdtempSync(join(tmpdir(), 'cordon-bench-learn-'))
writeFileSync(join(work, 'hello.c'), '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
process.chdir(work)
const base = policyFromFlags({})
const strace = spawnSync('strace', ['-V']).status === 0

const WORKLOADS = {
  'tar of /usr/include (8.7k files)': 'tar cf - -C /usr include | wc -c',
  'gcc -c, 5 times': 'for i in 1 2 3 4 5; do gcc -c -o /tmp/x.o hello.c; done',
  'python3 startup, 5 times': 'for i in 1 2 3 4 5; do python3 -c pass; done',
}
// The sandbox's PATH, for the bare and strace runs too (the same binaries everywhere).
const env = { ...process.env, PATH: base.env.set.PATH }
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const time = async (f) => {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

const results = []
for (const [name, script] of Object.entries(WORKLOADS)) {
  const bare = []
  const learn = []
  const traced = []
  let records = 0
  for (let r = 0; r < rounds; r++) {
    bare.push(await time(() => execFileSync('sh', ['-c', script], { stdio: 'ignore', env })))
    learn.push(
      await time(async () => {
        const run = await tracedRun(base, 'sh', ['-c', script], { mode: 'learn', stdio: 'ignore' })
        records = Object.keys(run.observation.files).length
      }),
    )
    if (strace)
      traced.push(
        await time(() =>
          execFileSync('strace', ['-f', '-o', '/dev/null', 'sh', '-c', script], { stdio: 'ignore', env }),
        ),
      )
  }
  const b = median(bare)
  const row = {
    workload: name,
    bareMs: +b.toFixed(1),
    learnMs: +median(learn).toFixed(1),
    straceMs: strace ? +median(traced).toFixed(1) : null,
    learnOverheadMs: +(median(learn) - b).toFixed(1),
    straceOverheadMs: strace ? +(median(traced) - b).toFixed(1) : null,
    paths: records,
  }
  row.ratio = strace ? +(row.learnOverheadMs / row.straceOverheadMs).toFixed(2) : null
  results.push(row)
}

if (values.json) console.log(JSON.stringify(results))
else {
  console.log(`learn cost, median of ${rounds} (ms; overhead = run − bare)`)
  console.log('| workload | bare | cordon learn | strace -f | learn overhead | strace overhead | ratio |')
  console.log('|---|---|---|---|---|---|---|')
  for (const r of results)
    console.log(
      `| ${r.workload} | ${r.bareMs} | ${r.learnMs} | ${r.straceMs ?? 'n/a'} | +${r.learnOverheadMs} | ${r.straceOverheadMs === null ? 'n/a' : `+${r.straceOverheadMs}`} | ${r.ratio ?? 'n/a'} |`,
    )
}
