// The parts of the OCI runtime-spec config.json that cordon-oci reads, and the error every
// unsupported field becomes: a field is translated or refused by name, never skipped.
import { CordonError } from '../errors.js'

export interface OciMount {
  destination: string
  type?: string
  source?: string
  options?: string[]
  uidMappings?: unknown[]
  gidMappings?: unknown[]
}

export interface OciHook {
  path: string
  args?: string[]
  env?: string[]
  timeout?: number
}

export interface OciProcess {
  terminal?: boolean
  consoleSize?: { height: number; width: number }
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[]; username?: string }
  args?: string[]
  commandLine?: string
  env?: string[]
  cwd: string
  capabilities?: Partial<Record<'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', string[]>>
  rlimits?: { type: string; hard: number; soft: number }[]
  noNewPrivileges?: boolean
  apparmorProfile?: string
  oomScoreAdj?: number
  selinuxLabel?: string
  [key: string]: unknown
}

export interface OciSeccomp {
  defaultAction: string
  defaultErrnoRet?: number
  architectures?: string[]
  flags?: string[]
  listenerPath?: string
  listenerMetadata?: string
  syscalls?: {
    names: string[]
    action: string
    errnoRet?: number
    args?: { index: number; value: number | bigint; valueTwo?: number | bigint; op: string }[]
  }[]
}

export interface OciDeviceRule {
  allow: boolean
  type?: string
  major?: number | null
  minor?: number | null
  access?: string
}

export interface OciLinux {
  namespaces?: { type: string; path?: string }[]
  uidMappings?: { containerID: number; hostID: number; size: number }[]
  gidMappings?: { containerID: number; hostID: number; size: number }[]
  devices?: {
    type: string
    path: string
    major?: number
    minor?: number
    fileMode?: number
    uid?: number
    gid?: number
  }[]
  cgroupsPath?: string
  resources?: Record<string, unknown>
  rootfsPropagation?: string
  seccomp?: OciSeccomp
  sysctl?: Record<string, string>
  maskedPaths?: string[]
  readonlyPaths?: string[]
  mountLabel?: string
  [key: string]: unknown
}

export interface OciConfig {
  ociVersion: string
  process?: OciProcess
  root?: { path: string; readonly?: boolean }
  hostname?: string
  domainname?: string
  mounts?: OciMount[]
  hooks?: Partial<Record<HookName, OciHook[]>>
  annotations?: Record<string, string>
  linux?: OciLinux
  [key: string]: unknown
}

export const HOOK_NAMES = [
  'prestart',
  'createRuntime',
  'createContainer',
  'startContainer',
  'poststart',
  'poststop',
] as const
export type HookName = (typeof HOOK_NAMES)[number]

/** The error for a config.json field cordon-oci does not carry out. */
export function unsupported(field: string, why: string): CordonError {
  return new CordonError('invalid_policy', `config.json ${field}: ${why}`, { step: field })
}

/** The error for a config.json field of the wrong shape. */
export function invalid(field: string, expected: string, got: unknown): CordonError {
  return new CordonError(
    'invalid_policy',
    `config.json ${field}: expected ${expected}, got ${JSON.stringify(got)}`,
    {
      step: field,
    },
  )
}

/** True when a value carries no setting (runtimes and engines write empty objects and zeros). */
export function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false || v === 0) return true
  if (Array.isArray(v)) return v.length === 0
  if (typeof v === 'object') return Object.values(v).every(isEmpty)
  return false
}

/** Refuses every key of obj not in known that carries a setting. */
export function refuseUnknown(
  obj: object | undefined,
  known: readonly string[],
  prefix: string,
  why: string,
): void {
  for (const [k, v] of Object.entries(obj ?? {}))
    if (!known.includes(k) && !isEmpty(v)) throw unsupported(`${prefix}.${k}`, why)
}
