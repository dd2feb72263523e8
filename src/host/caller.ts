// Facts about the calling process that a plan depends on.
import { callerCwd } from './path-bytes.js'

/** Who is asking, and from where: the ids, working directory and architecture of this process. */
export interface CallerFacts {
  uid: number
  gid: number
  /** Host working directory; kept as the sandbox's when the view shows it. */
  cwd: string
  arch: string
}

export function callerContext(): CallerFacts {
  return {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: callerCwd(),
    arch: process.arch,
  }
}
