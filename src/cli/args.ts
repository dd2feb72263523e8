// Every command's argument parsing: node:util parseArgs, strict, with positionals and -h/--help.
import { type ParseArgsConfig, parseArgs } from 'node:util'

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
  const parsed = parseArgs({
    args: joinNegativeValues(argv, options),
    options: { ...options, ...HELP_OPTION },
    strict: true,
    allowPositionals: true,
  })
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(help)
    return undefined
  }
  return parsed as Parsed<O>
}

export type Flags<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>
>['values']

/** The flags before a command (`run`, `learn`: the command comes after them, unparsed). */
export function parseFlags<const O extends Options>(flags: string[], options: O): Flags<O> {
  return parseArgs({
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
