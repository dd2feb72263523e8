// org.cordon.monitor's value, apart from the supervisor (monitor.ts): `create` reads it for
// every container, and monitor.ts loads node:child_process (through host/signal.ts), which a
// container without a monitor never needs (start-up, child-process.ts).
import { policyDir, readOwnFile } from './policy-dir.js'
import { invalid } from './spec.js'

export const MONITOR_ANNOTATION = 'org.cordon.monitor'

/** The annotation: "on" (cordon's default rules), a NAME whose NAME.rules.yaml in the policy
 * directory is loaded after them (a rule of the same name replaces a default one), or "off".
 * Returns the rules files after the defaults, or undefined for no monitor. */
export function monitorWanted(annotations: Record<string, string> | undefined): string[] | undefined {
  const v = annotations?.[MONITOR_ANNOTATION]?.trim()
  if (v === undefined || v === 'off' || v === 'false') return undefined
  if (v === 'on' || v === 'true') return []
  const field = `annotations["${MONITOR_ANNOTATION}"]`
  if (!/^[A-Za-z0-9][\w.-]*$/.test(v))
    throw invalid(
      field,
      `"on" (cordon's default rules), "off", or a NAME of ${policyDir()}/NAME.rules.yaml`,
      v,
    )
  const file = `${policyDir()}/${v}.rules.yaml`
  if (readOwnFile(file, field) === undefined)
    throw invalid(field, `"on", "off", or a NAME of ${policyDir()}/NAME.rules.yaml (no such file)`, v)
  return [file]
}
