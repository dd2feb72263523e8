// `npm run schema`: regenerates schema/policy.schema.json (a test checks it is current).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { policyJsonSchema } from './json-schema.js'

const out = process.argv[2] ?? 'schema/policy.schema.json'
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, `${JSON.stringify(policyJsonSchema(), null, 2)}\n`)
