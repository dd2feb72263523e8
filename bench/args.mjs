// The bench scripts' options: node:util's parseArgs, plus --help, which prints the script's
// own header comment (what it measures and how to run it), and a one-line error naming a bad
// option instead of a stack trace.
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

/** parseArgs({ options }) for the script at scriptUrl (its import.meta.url), with --help/-h. */
export function benchArgs(scriptUrl, options) {
  const file = fileURLToPath(scriptUrl)
  let parsed
  try {
    parsed = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } })
  } catch (error) {
    if (!String(error?.code).startsWith('ERR_PARSE_ARGS')) throw error
    process.stderr.write(`bench/${basename(file)}: ${error.message}; see --help\n`)
    process.exit(2)
  }
  if (parsed.values.help) {
    process.stdout.write(usage(file))
    process.exit(0)
  }
  return parsed
}

/** The comment lines the script opens with, without their `//`. */
function usage(file) {
  const lines = []
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('//')) break
    lines.push(line.replace(/^\/\/ ?/, ''))
  }
  return `${lines.join('\n')}\n`
}
