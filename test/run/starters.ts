// What the starter tests share (run/launcher-process.ts): whether the addon is built, the two
// starters, a view a sandbox can run `sh` in, and running a check under each starter.
import { existsSync } from 'node:fs'
import { nativePath } from '../../src/host/launcher.js'
import { useStarter } from '../../src/run/launcher-process.js'
export { withStarter } from '../../src/run/launcher-process.js'

export const built = existsSync(nativePath('cordon-spawn.node'))
export const STARTERS = ['addon', 'child_process'] as const
export type Starter = (typeof STARTERS)[number]

/** The host's tree read-only in fresh user, pid and mount namespaces. */
export const VIEW = {
  namespaces: { user: true, pid: true, mount: true },
  filesystem: [{ ro: '/' }, { proc: '/proc' }, { dev: '/dev' }],
}

/** Runs check under each starter in turn, the addon restored after each. */
export async function eachStarter(check: (which: Starter) => unknown): Promise<void> {
  for (const which of STARTERS) {
    useStarter(which)
    try {
      await check(which)
    } finally {
      useStarter('addon')
    }
  }
}
