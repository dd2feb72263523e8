// The published JSON Schema, generated from the same definition as the validator.
import { policySchema } from './schema.js'

export function policyJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://cordon.dev/schema/policy-v1.json',
    title: 'cordon policy',
    ...policySchema.jsonSchema(),
  }
}
