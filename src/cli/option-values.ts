// The values an option takes, for the completion scripts: each list is the table the option's
// parser checks against, so completing a value cannot offer what the parser refuses.
import { BACKENDS } from '../backends/runtime.js'
import { FORMATS } from '../export/model.js'
import { ALERT_FORMATS } from '../monitor/falco-output.js'
import { PROFILES } from '../policy/profiles.js'
import { NETWORK_MODES } from '../policy/schema.js'
import { WORKLOADS } from '../backends/advise.js'
import { ARCH_NAMES, HOST_ARCH_NAMES, HOST_ARCH_WORDS } from '../seccomp/arch.js'

/** The architectures `cordon export --arch` writes seccomp profiles for (Node's names). */
export const EXPORT_ARCHES = HOST_ARCH_NAMES

/** The completion shells (`cordon completion SHELL`). */
export const SHELL_NAMES = ['bash', 'zsh', 'fish'] as const

/** Values by option, for every command; `byCommand` overrides where a command reads it its way. */
const ANY: Record<string, readonly string[]> = {
  profile: Object.keys(PROFILES),
  backend: BACKENDS,
  'alert-format': ALERT_FORMATS,
  net: NETWORK_MODES,
}

export function optionValues(command: string): Record<string, readonly string[]> {
  switch (command) {
    case 'export':
      return { ...ANY, to: FORMATS, arch: EXPORT_ARCHES }
    case 'seccomp':
      return { ...ANY, arch: HOST_ARCH_WORDS }
    case 'policy':
      return { ...ANY, arch: ARCH_NAMES }
    case 'advise':
      return { ...ANY, workload: WORKLOADS }
    default:
      return ANY
  }
}
