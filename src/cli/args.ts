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
    args: argv,
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
