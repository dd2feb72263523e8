// `npm run fuzz [-- SECONDS]`: libFuzzer on the launcher's plan decoder (native/fuzz_plan.c),
// seeded with real plans compiled from the built-in profiles. Prints executions and crashes.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const seconds = Number(process.argv[2] ?? 120)
const { compilePlan, encodePlan, resolvePolicy, PROFILES } = await import(
  join(root, 'build', 'src', 'index.js')
)

const corpus = join(root, 'fuzz-corpus')
mkdirSync(corpus, { recursive: true })
for (const name of Object.keys(PROFILES)) {
  const plan = compilePlan(resolvePolicy({ policy: { extends: [name] }, baseDir: '/', label: name }, '/'), {
    uid: 1000,
    gid: 1000,
    cwd: '/',
    arch: process.arch,
    command: ['/bin/sh', '-c', 'true'],
  })
  writeFileSync(join(corpus, `seed-${name}.plan`), encodePlan(plan))
}

const artifacts = join(root, 'build', 'fuzz-artifacts')
mkdirSync(artifacts, { recursive: true })
const r = spawnSync(
  join(root, 'build', 'native', 'fuzz-plan'),
  [
    `-max_total_time=${seconds}`,
    '-max_len=65536',
    `-artifact_prefix=${artifacts}/`,
    '-print_final_stats=1',
    corpus,
  ],
  { encoding: 'utf8' },
)
const log = `${r.stdout}${r.stderr}`
const execs = /stat::number_of_executed_units:\s*(\d+)/.exec(log)?.[1] ?? '?'
const crashes = readdirSync(artifacts).filter((f) => /^(crash|leak|timeout|oom)-/.test(f))
console.log(
  `fuzz-plan: ${seconds}s, ${execs} executions, ${crashes.length} crashes${crashes.length ? `: ${crashes.join(' ')}` : ''}`,
)
if (r.status !== 0 || crashes.length) {
  console.log(log.split('\n').slice(-40).join('\n'))
  process.exit(1)
}
