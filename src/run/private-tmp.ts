// The temporary directory of a sandbox without a mount namespace: its tmpfs statements cannot
// replace the host's directories, so each run gets a fresh one of its own instead, owned by the
// sandbox's host ids, 0700, granted by Landlock and named by $TMPDIR (plan/compile.ts tmpEnv).
// Made in /tmp (root-owned and sticky: no other user can rename or replace our entry).
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, lstatSync, mkdtempSync, rmdirSync } from 'node:fs'

const BASE = '/tmp'

export interface PrivateTmp {
  path: string
  /** Gives it to the sandbox's host ids (a root caller's sandbox runs as its id range). */
  handOver(uid: number, gid: number): void
  remove(): void
}

export function makePrivateTmp(): PrivateTmp {
  const path = mkdtempSync(`${BASE}/cordon-tmp-`)
  let owner: { uid: number; gid: number } | undefined
  return {
    path,
    handOver(uid, gid) {
      if (process.getuid?.() !== 0 || (uid === 0 && gid === 0)) return
      chownSync(path, uid, gid)
      owner = { uid, gid }
    },
    remove() {
      // The sandbox may have left symlinks and raced directories in it: removed by rm (fts, never
      // following a symlink) running as the sandbox's own ids, so a race reaches nothing the
      // sandbox could not delete itself.
      spawnSync('rm', ['-rf', '--one-file-system', '--', path], {
        stdio: 'ignore',
        ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      })
      try {
        if (existsSync(path) && lstatSync(path).isDirectory()) rmdirSync(path)
      } catch {}
    },
  }
}
