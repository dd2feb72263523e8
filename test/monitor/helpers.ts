// Shared by the monitor tests: the load generator, compiled once per test process.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { projectDir, ROOT } from '../helpers.js'

export function stormBinary(): string {
  const out = join(projectDir(), 'storm')
  if (!existsSync(out)) execFileSync('cc', ['-O2', '-o', out, join(ROOT, 'test', 'monitor', 'storm.c')])
  return out
}

/** Pids whose command line is exactly argv. */
export function pidsOf(argv: string[]): number[] {
  const want = `${argv.join('\0')}\0`
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === want
      } catch {
        return false
      }
    })
}

/** The first value get() gives other than undefined, polled every 20 ms for up to ms. */
export async function until<T>(what: string, get: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = get()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}
