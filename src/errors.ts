// One error class for everything cordon reports: a code the CLI maps to an exit status, the
// policy path or plan step that failed, and every validation issue at once.

/** One problem with user input, in the shape of zod's issues. */
export interface Issue {
  code: IssueCode
  path: (string | number)[]
  message: string
}

export type IssueCode =
  'invalid_type' | 'invalid_value' | 'unknown_key' | 'missing_key' | 'invalid_syntax' | 'conflict'

export type ErrorCode =
  | 'invalid_policy' // the policy failed validation (issues lists why)
  | 'invalid_usage' // bad CLI flags
  | 'invalid_rules' // a monitor rules file failed validation
  | 'not_found' // a policy file, profile, launcher, or (run()) the command is missing
  | 'setup_failed' // the launcher could not build the sandbox (step says where)
  | 'command_failed' // run(): the command exited non-zero, was killed, timed out or aborted
  | 'max_buffer' // run(): the command wrote more than maxBuffer; the sandbox was killed
  | 'internal'

export class CordonError extends Error {
  readonly code: ErrorCode
  readonly issues: Issue[]
  readonly step: string | undefined
  constructor(
    code: ErrorCode,
    message: string,
    options: { issues?: Issue[]; step?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CordonError'
    this.code = code
    this.issues = options.issues ?? []
    this.step = options.step
  }
}

/** Renders a path like `filesystem[2].ro.src`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part
  return out || '(root)'
}

/** Describes a value for a message: `lots` (string). */
export function describeValue(value: unknown): string {
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
  // JSON.stringify throws on a bigint (a plan's 64-bit masks).
  const text =
    typeof value === 'string' ? value : typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)
  const shown = text !== undefined && text.length > 40 ? `${text.slice(0, 37)}...` : text
  return kind === 'object' || kind === 'array' ? kind : `\`${shown}\` (${kind})`
}

/** Why a file named by the user could not be read, in words, for "X: <problem>; <fix>":
 * Node's own text (`EISDIR: illegal operation on a directory, read`) names neither. */
export function fileProblem(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  switch (code) {
    case 'ENOENT':
      return 'does not exist'
    case 'EISDIR':
      return 'is a directory, not a file'
    case 'ENOTDIR':
      return 'is not there (a component of its path is not a directory)'
    case 'EACCES':
    case 'EPERM':
      return `is not readable by uid ${process.getuid?.() ?? '?'} (permission denied)`
    case 'ELOOP':
      return 'is a symbolic link loop'
    default:
      return `cannot be read (${code ?? (cause as Error | undefined)?.message ?? 'unknown error'})`
  }
}

/** The closest candidate within edit distance 2, for "did you mean" hints; else the one
 * candidate a word of three letters or more begins (`net` for `network`). */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  if (best !== undefined || word.length < 3) return best
  const begun = candidates.filter((c) => c.toLowerCase().startsWith(word.toLowerCase()))
  if (begun.length === 1) return begun[0]
  // A longer word for it (`--network` for `--net`, after docker's flag).
  const within = candidates.filter((c) => c.length >= 3 && word.toLowerCase().startsWith(c.toLowerCase()))
  return within.length === 1 ? within[0] : undefined
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost))
    }
    prev = row
  }
  return prev[b.length]!
}

/** Whether an errno code says the process or the system ran out of file descriptors. */
export function outOfFds(code: string | undefined): boolean {
  return code === 'EMFILE' || code === 'ENFILE'
}

/** What to do about it, in every message that reports it. */
export const RAISE_FD_LIMIT = 'raise the limit, e.g. `ulimit -n 1024`'
