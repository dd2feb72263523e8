// The library: run commands under a policy, or compile policies to plans.
export { CordonError, type ErrorCode, type Issue } from './errors.js'
export { type HostFacts, hostFacts, type KernelProbe } from './host/probe.js'
export { type Check, type CheckStatus, hostChecks } from './host/report.js'
export { type CompileContext, compilePlan } from './plan/compile.js'
export { callerContext } from './host/caller.js'
export { describePlan, planToJson } from './plan/describe.js'
export { encodePlan } from './plan/encode.js'
export type { Plan, PlanOp } from './plan/model.js'
export { policyJsonSchema } from './policy/json-schema.js'
export { loadPolicyFile, parsePolicy, validatePolicy } from './policy/parse.js'
export { NO_NAMESPACES, PROFILES } from './policy/profiles.js'
export { type PolicySource, type ResolvedPolicy, resolveLayers, resolvePolicy } from './policy/resolve.js'
export type { FilesystemEntry, Policy } from './policy/schema.js'
export { describeStepError, type EventOf, type SandboxEvent, type SandboxEventName } from './run/events.js'
export { escapeControl } from './run/escape.js'
export { hasEscapedBytes, pathBytes, pathFromBytes } from './host/path-bytes.js'
export { DEFAULT_MAX_BUFFER, type RunOptions, type RunResult, run } from './run/run.js'
export { type FailedRun, SandboxError } from './run/sandbox-error.js'
export {
  type ExitReason,
  type ExitResult,
  type PolicyInput,
  type SandboxInput,
  type SandboxProcess,
  type SandboxProcessEvents,
  type SpawnOptions,
  spawn,
} from './run/spawn.js'
