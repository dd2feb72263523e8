// Where the cordon-exec launcher lives: built into build/native at install time.
import { accessSync, constants } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CordonError } from '../errors.js'

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** The launcher binary; CORDON_LAUNCHER overrides it (e.g. the sanitizer build in tests). */
export function launcherPath(): string {
  const path = process.env.CORDON_LAUNCHER || join(packageRoot, 'build', 'native', 'cordon-exec')
  try {
    accessSync(path, constants.X_OK)
  } catch (cause) {
    throw new CordonError(
      'not_found',
      `The launcher ${path} is missing; build it with \`npm rebuild cordon\` (needs cc and make)`,
      { cause },
    )
  }
  return path
}
