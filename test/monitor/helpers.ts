// Shared by the monitor tests: the load generator, compiled once per test process.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { projectDir, ROOT } from '../helpers.js'

export function stormBinary(): string {
  const out = join(projectDir(), 'storm')
  if (!existsSync(out)) execFileSync('cc', ['-O2', '-o', out, join(ROOT, 'test', 'monitor', 'storm.c')])
  return out
}
