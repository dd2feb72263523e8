// Where the cordon-exec launcher lives: built into build/native at install time.
import { accessSync, constants } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CordonError } from '../errors.js'

// `cordon run`'s CommonJS bundles define this as their own __filename (scripts/bundle-cli.mjs),
// which is the file import.meta.url names there; elsewhere it is not defined.
declare const __CORDON_OWN_FILE__: string | undefined

/** The package directory this code runs from (build/src/host, and the bundles' build/src/cli-bundle,
 * are three levels below it). In the run bundles the file's path is taken as it is: its URL, made
 * and parsed at every start, was ~0.8 ms of a filed run (Node's URL code run for the first time).
 * A bundle of someone else's that defines import.meta.url (bench/startup.mjs) keeps that. */
export const packageRoot = join(
  dirname(typeof __CORDON_OWN_FILE__ === 'string' ? __CORDON_OWN_FILE__ : fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
)

/** Errors for a part of cordon's own build that is missing: cordon failed (exit 125), where any
 * other `not_found` (a policy file, a profile, a sandbox id) is the caller's input (exit 2). */
const missing = new WeakSet<CordonError>()

/** A `not_found` for a part of cordon's build (the launcher, the probes, a fixture). */
export function missingBuild(message: string, cause?: unknown): CordonError {
  const error = new CordonError('not_found', message, cause === undefined ? {} : { cause })
  missing.add(error)
  return error
}

/** Whether error says a part of cordon's own build is missing (missingBuild). */
export function isMissingBuild(error: CordonError): boolean {
  return missing.has(error)
}

/** The launcher binary; CORDON_LAUNCHER overrides it (e.g. the sanitizer build in tests). */
export function launcherPath(): string {
  const path = process.env.CORDON_LAUNCHER || join(packageRoot, 'build', 'native', 'cordon-exec')
  try {
    accessSync(path, constants.X_OK)
  } catch (cause) {
    throw missingBuild(
      `The launcher ${path} is missing; build it with \`npm rebuild cordon\` (needs cc and make)`,
      cause,
    )
  }
  return path
}

/** A file cordon builds into build/native beside the launcher (the package's own, whatever
 * CORDON_LAUNCHER says: it may be loaded into this process). */
export function nativePath(name: string): string {
  return join(packageRoot, 'build', 'native', name)
}

/** The escape test battery `cordon verify` runs inside sandboxes (native/attack.c). */
export function probesPath(): string {
  const path = join(dirname(launcherPath()), 'cordon-probes')
  const fallback = join(packageRoot, 'build', 'native', 'cordon-probes')
  for (const candidate of [path, fallback])
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  throw missingBuild(
    `The probe battery ${fallback} is missing; build it with \`npm rebuild cordon\` (needs cc, make and a static libc)`,
  )
}

/** native/forward-signal.h FORWARD_SIGNAL: a signal of the job's passed on to the command, queued
 * with its number as the payload, so that the kernel never merges it with the same signal sent
 * to the whole job, which reaches the launcher directly too (native/launcher.c is_copy). */
export const FORWARD_SIGNAL = 61
