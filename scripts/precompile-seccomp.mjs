// Build step: compiles the built-in seccomp profiles for every supported host arch into
// build/seccomp-profiles.json (see src/seccomp/precompiled.ts).
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const lib = (p) => import(join(root, 'build', 'src', p))
const { resolveSeccomp } = await lib('seccomp/resolve.js')
const { compileSeccomp } = await lib('seccomp/compile.js')
const { entryPoints } = await lib('seccomp/arch.js')
const { SECCOMP_PROFILES } = await lib('seccomp/profiles.js')
const { PRECOMPILED_FILE } = await lib('seccomp/precompiled.js')
const { PRECOMPILED_EXTRA_SETS: EXTRA_SETS } = await lib('seccomp/extras.js')
// The same layering as every sandbox's filter (policy/effective.ts), so the keys stay exact.
const { withExtras } = await lib('policy/effective.js')

const out = {}
for (const arch of ['x64', 'arm64', 'riscv64'])
  for (const profile of Object.keys(SECCOMP_PROFILES))
    for (const extras of EXTRA_SETS) {
      const layers = withExtras([{ profile, origin: 'build' }], extras)
      const filter = compileSeccomp(resolveSeccomp(layers), entryPoints(arch))
      out[`${arch}:${profile}${extras.map((e) => `+${e}`).join('')}`] = Buffer.from(filter.program).toString(
        'base64',
      )
    }
writeFileSync(PRECOMPILED_FILE, `${JSON.stringify(out)}\n`)
