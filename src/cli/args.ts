// Every command's argument parsing: node:util parseArgs, strict, with positionals and -h/--help.
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { CordonError, suggest } from '../errors.js'
import { setQuiet } from './output.js'

type Options = NonNullable<ParseArgsConfig['options']>
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const

export type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O & typeof HELP_OPTION; strict: true; allowPositionals: true }>
>

/** The parsed flags, or undefined when --help was given (and `help` printed). */
export function parseCommand<const O extends Options>(
  argv: string[],
  options: O,
  help: string,
): Parsed<O> | undefined {
  const parsed = parseStrict({
    args: joinNegativeValues(argv, options),
    options: { ...options, ...HELP_OPTION },
    strict: true,
    allowPositionals: true,
  })
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(help)
    return undefined
  }
  return parsed
}

export type Flags<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>['values']

/** The flags before a command (`run`, `learn`: the command comes after them, unparsed). */
export function parseFlags<const O extends Options>(flags: string[], options: O): Flags<O> {
  return parseStrict({
    args: joinNegativeValues(flags, options),
    options,
    strict: true,
    allowPositionals: false,
  }).values
}

/**
 * `--memory -1` would be read as an option named 1 (parseArgs: "argument is ambiguous"): a
 * string option followed by what looks like a negative number takes it as its value, so the
 * option's own check says what is wrong with it. Nothing after `--` is touched.
 */
export function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') return [...out, ...argv.slice(i)]
    const name = arg.startsWith('--') ? arg.slice(2) : undefined
    const next = argv[i + 1]
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}

/** A flag the command does not take, or a flag's value missing or misplaced: the dispatcher adds
 * which command's --help to read. */
export class FlagError extends CordonError {
  constructor(message: string) {
    super('invalid_usage', message, { step: 'flags' })
  }
}

const VIEW_FLAGS = new Set(['ro', 'rw', 'tmpfs'])

/** node:util parseArgs, its errors said our way (every command parses through here): Node's
 * text quotes unevenly and names neither the command nor the fix. */
export function parseStrict<const C extends ParseArgsConfig>(config: C): ReturnType<typeof parseArgs<C>> {
  try {
    const parsed = parseArgs({ ...config, tokens: true })
    if (config.options && 'quiet' in config.options)
      setQuiet((parsed.values as { quiet?: boolean }).quiet === true)
    // The view's flags keep their order, which the values (one list per flag) lose: `--rw .
    // --ro .` is read-only, as a policy's later entry wins (policy-flags.ts).
    const order = (parsed.tokens ?? []).flatMap((t) =>
      t.kind === 'option' && VIEW_FLAGS.has(t.name) && t.value !== undefined ? [{ [t.name]: t.value }] : [],
    )
    if (order.length) Object.assign(parsed.values, { filesystemOrder: order })
    return parsed as ReturnType<typeof parseArgs<C>>
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? ''
    if (!code.startsWith('ERR_PARSE_ARGS')) throw error
    throw new FlagError(describeFlagError(code, (error as Error).message, config.options ?? {}, config.args))
  }
}

/** The option a flag names: `--name`, or `-x` by its short form. */
const optionName = (flag: string, options: Options): string | undefined =>
  flag.startsWith('--')
    ? flag.slice(2)
    : Object.keys(options).find((n) => options[n]?.short === flag.slice(1))

/** Whether `flag` (the word before a value) is an option that takes one. */
function takesValue(flag: string | undefined, options: Options): boolean {
  if (!flag?.startsWith('-') || flag.includes('=')) return false
  const name = optionName(flag, options)
  return name !== undefined && options[name]?.type === 'string'
}

function describeFlagError(
  code: string,
  message: string,
  options: Options,
  args: readonly string[] = [],
): string {
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? ''
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return `unexpected argument \`${quoted}\`: this command takes none`
  const names = Object.keys(options)
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const near = quoted.startsWith('--') ? suggest(quoted.slice(2), names) : undefined
    if (near) return `unknown option \`${quoted}\` (did you mean \`--${near}\`?)`
    // After a word that is no option (`cordon compile -o f ls -l`) it is likely the command's
    // own: that hint, and only then (`cordon check -q` has no command to give it to).
    const at = args.indexOf(quoted)
    const afterWord = args
      .slice(0, at < 0 ? 0 : at)
      .some((a, i, all) => !a.startsWith('-') && !takesValue(all[i - 1], options))
    return afterWord
      ? `unknown option \`${quoted}\` (an argument that starts with a dash goes after \`--\`)`
      : `unknown option \`${quoted}\``
  }
  // ERR_PARSE_ARGS_INVALID_OPTION_VALUE: the quoted part is `--name`, `-o` or `--name <value>`.
  const flag = /-{1,2}[\w-]+/.exec(quoted)?.[0] ?? quoted
  const name = optionName(flag, options) ?? flag.replace(/^-+/, '')
  if (/does not take an argument/.test(message)) return `\`--${name}\` takes no value: drop the \`=…\``
  if (/ambiguous/.test(message))
    return `\`${flag}\` needs a value, and the next word starts with a dash: write \`--${name}=VALUE\``
  if (/missing/.test(message)) return `\`${flag}\` needs a value: \`--${name} VALUE\``
  return message.replace(/'/g, '`')
}
