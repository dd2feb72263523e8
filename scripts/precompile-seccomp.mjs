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
// The single table of earlier builds, if any: nothing reads it any more.
rmSync(join(root, 'build', 'seccomp-profiles.json'), { force: true })
