// A mask hides a path, not a file: another hard link to the same inode (a name elsewhere in a
// bound directory, or beside it under another name) still opens it, with the mount layer and
// Landlock both judging by path. The kernel gives no way from an inode to its other names, so
// the compiler cannot mask them too; it says so when the file it masks has more than one.
import type { Stats } from 'node:fs'
import { hostLstat } from '../host/reads.js'
import type { ViewEntry } from './resolved.js'

/** One warning per host file a `mask:` hides that has other hard links (st_nlink > 1). */
export function maskLinkWarnings(
  filesystem: readonly ViewEntry[],
  lstat: (path: string) => Stats | undefined = hostLstat,
): string[] {
  const seen = new Set<string>()
  const warnings: string[] = []
  for (const e of filesystem) {
    if (e.kind !== 'mask') continue
    const path = e.host ?? e.dest
    if (seen.has(path)) continue // a mask repeated where another bind shows the same file
    seen.add(path)
    let st: Stats | undefined
    try {
      st = lstat(path)
    } catch {
      continue // unreadable: nothing known of its links (and nothing the sandbox reads either)
    }
    if (!st?.isFile() || st.nlink < 2) continue
    warnings.push(
      `\`mask: ${e.named ?? e.dest}\` hides the path, not the file: ${path} has ${st.nlink - 1} other hard ` +
        `link${st.nlink > 2 ? 's' : ''}, which stay${st.nlink > 2 ? '' : 's'} readable wherever the view shows ` +
        `${st.nlink > 2 ? 'them' : 'it'}; mask the directory that holds ${st.nlink > 2 ? 'them' : 'it'}, or remove ` +
        `the other links (\`find / -xdev -samefile ${path}\` lists them)`,
    )
  }
  return warnings
}
