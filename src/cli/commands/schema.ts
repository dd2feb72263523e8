// cordon schema: the JSON Schema editors use for policy files.
import { policyJsonSchema } from '../../policy/json-schema.js'

export async function schemaCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'Usage: cordon schema\n\nPrints the JSON Schema of policy files (also shipped as cordon/schema.json).\n' +
        'In YAML files: # yaml-language-server: $schema=./node_modules/cordon/schema/policy.schema.json\n',
    )
    return 0
  }
  process.stdout.write(`${JSON.stringify(policyJsonSchema(), null, 2)}\n`)
  return 0
}
