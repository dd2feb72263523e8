// Build step: compiles the built-in seccomp profiles for every supported host arch into
// build/seccomp/KEY.bpf, one file per key (see src/seccomp/precompiled.ts).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const lib = (p) => import(join(root, 'build', 'src', p))
const { resolveSeccomp } = await lib('seccomp/resolve.js')
const { compileSeccomp } = await lib('seccomp/compile.js')
const { entryPoints, HOST_ARCH_NAMES } = await lib('seccomp/arch.js')
const { SECCOMP_PROFILES } = await lib('seccomp/profiles.js')
const { PRECOMPILED_DIR, precompiledFile } = await lib('seccomp/precompiled.js')
const { PRECOMPILED_EXTRA_SETS: EXTRA_SETS } = await lib('seccomp/extras.js')
// The same layering as every sandbox's filter (policy/effective.ts), so the keys stay exact.
const { withExtras } = await lib('policy/effective.js')

rmSync(PRECOMPILED_DIR, { recursive: true, force: true })
mkdirSync(PRECOMPILED_DIR, { recursive: true })
for (const arch of HOST_ARCH_NAMES)
  for (const profile of Object.keys(SECCOMP_PROFILES))
    for (const extras of EXTRA_SETS) {
      const layers = withExtras([{ profile, origin: 'build' }], extras)
      const filter = compileSeccomp(resolveSeccomp(layers), entryPoints(arch))
      const key = `${arch}:${profile}${extras.map((e) => `+${e}`).join('')}`
      const file = precompiledFile(key)
      if (!file) throw new Error(`precompile-seccomp: key ${key} is not a file name`)
      writeFileSync(file, filter.program)
    }
// `cordon run --monitor` with the default rules watches their syscalls: its filter and the
// launcher's responder are precompiled too, for that one watch list (watch-sets.json), so that
// a monitored run does not load the compiler either. Any other list compiles as before.
const { compileFilter } = await lib('plan/filter.js')
const { DEFAULT_RULES_FILE, loadRules, watchedSyscalls } = await lib('monitor/rules.js')
const { WATCH_SETS_FILE } = await lib('seccomp/precompiled.js')
const watchSets = [watchedSyscalls(loadRules([DEFAULT_RULES_FILE]))]
writeFileSync(WATCH_SETS_FILE, `${JSON.stringify(watchSets)}\n`)
for (const arch of HOST_ARCH_NAMES)
  for (const profile of Object.keys(SECCOMP_PROFILES))
    for (const extras of EXTRA_SETS)
      for (const [i, watch] of watchSets.entries()) {
        const filter = compileFilter([{ profile, origin: 'build' }], extras, arch, watch)
        const key = `${arch}:${profile}${extras.map((e) => `+${e}`).join('')}+watch${i}`
        if (!filter.responder) throw new Error(`precompile-seccomp: ${key} has no responder`)
        for (const [k, program] of [
          [key, filter.program],
          [`${key}+responder`, filter.responder],
        ]) {
          const file = precompiledFile(k)
          if (!file) throw new Error(`precompile-seccomp: key ${k} is not a file name`)
          writeFileSync(file, program)
        }
      }
// The single table of earlier builds, if any: nothing reads it any more.
rmSync(join(root, 'build', 'seccomp-profiles.json'), { force: true })
