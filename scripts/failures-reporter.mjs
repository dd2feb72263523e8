// A node:test reporter that writes one line per failed test: its file, its name and the first
// line of its error. run-tests.mjs prints these lines last, so that a CI log cut to its tail
// still names what failed (the TAP stream puts a failure wherever it happened, often minutes
// before the end).
import { relative } from 'node:path'

export default async function* failures(source) {
  for await (const event of source) {
    if (event.type !== 'test:fail') continue
    const { name, file, details } = event.data
    const error = details?.error
    // A suite fails because a test in it failed: that test has its own line.
    if (error?.failureType === 'subtestsFailed') continue
    const cause = error?.cause ?? error
    const message = String(cause?.message ?? cause ?? 'failed')
      .split('\n')
      .find((line) => line.trim() !== '')
    const where = file ? relative(process.cwd(), file) : '?'
    yield `${where}: ${name}: ${message?.trim().slice(0, 300) ?? 'failed'}\n`
  }
}
