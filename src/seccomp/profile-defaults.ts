// The built-in seccomp profiles' default actions, apart from their rules (profiles.ts) so that the
// lean run path (run/exit-hint-names.ts: was the failure an allowlist's?) reads them without the
// syscall groups.

/** What each built-in profile does with a call no rule names. */
export const PROFILE_DEFAULTS = {
  default: 'allow',
  strict: 'errno(EPERM)',
  none: 'allow',
} as const satisfies Record<string, string>

export type BuiltinSeccompProfile = keyof typeof PROFILE_DEFAULTS
