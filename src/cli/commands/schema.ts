// cordon schema: the JSON Schema editors use for policy files.
import { policyJsonSchema } from '../../policy/json-schema.js'
import { parseStrict } from '../args.js'

const HELP =
  'Usage: cordon schema\n\nPrints the JSON Schema of policy files (also shipped as cordon/schema.json).\n' +
  'In YAML files: # yaml-language-server: $schema=./node_modules/cordon/schema/policy.schema.json\n\n' +
  '  -h, --help   this help\n'

export async function schemaCommand(argv: string[]): Promise<number> {
  const { values } = parseStrict({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  process.stdout.write(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`)
  return 0
}
