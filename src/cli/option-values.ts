// The values an option takes, for the completion scripts: each list is the table the option's
// parser checks against, so completing a value cannot offer what the parser refuses.
import { BACKENDS } from '../backends/runtime.js'
import { FORMATS } from '../export/model.js'
import { ALERT_FORMATS } from '../monitor/falco-output.js'
import { PROFILES } from '../policy/profiles.js'
import { ARCHES } from '../seccomp/arch.js'

/** The architectures `cordon export --arch` writes seccomp profiles for (Node's names). */
export const EXPORT_ARCHES = ['x64', 'arm64', 'riscv64'] as const

/** The completion shells (`cordon completion SHELL`). */
export const SHELL_NAMES = ['bash', 'zsh', 'fish'] as const

/** Values by option, for every command; `byCommand` overrides where a command reads it its way. */
const ANY: Record<string, readonly string[]> = {
  profile: Object.keys(PROFILES),
  backend: BACKENDS,
  'alert-format': ALERT_FORMATS,
}

export async function optionValues(command: string): Promise<Record<string, readonly string[]>> {
  switch (command) {
    case 'export':
      return { ...ANY, to: FORMATS, arch: EXPORT_ARCHES }
    case 'seccomp':
      return { ...ANY, arch: Object.keys((await import('./commands/seccomp.js')).NODE_ARCH) }
    case 'policy':
      return { ...ANY, arch: Object.keys(ARCHES) }
    default:
      return ANY
  }
}
