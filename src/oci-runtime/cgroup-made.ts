// The cgroup directories cordon-oci made, remembered in the state root (ROOT/cgroups@made), so
// that delete removes the empty parents it made and never one the engine made. native/oci-fast.c
// (remove_groups) serves delete the same way.
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname } from 'node:path'

/** Where the state root remembers the cgroup parents cordon-oci made ('@': no container id). */
const markers = (root: string) => `${root}/cgroups@made`
const marker = (root: string, dir: string) => `${markers(root)}/${encodeURIComponent(dir)}`
/** The one file every marker is a name of (a marker is `%2F…`, never this; native/oci-fast.c
 * knows it too). */
const ANCHOR = '@anchor'

/** Remembers the directories create made, so that the delete of whichever container leaves
 * one empty removes it, whoever made it; a parent the engine made (Kubernetes' pod group, with
 * its own limits) is never taken. A marker is a name, so each is a hard link to the anchor:
 * a file of its own was an inode to allocate per group (10 per container on a hybrid host),
 * and ext4's inode allocation, slowed by the state root's own churn, was ~4 ms of a create's
 * CPU (README, start-up). Where no link can be made, a file of its own, as before. */
export function rememberMade(root: string, made: readonly string[]): void {
  if (!made.length) return
  mkdirSync(markers(root), { recursive: true, mode: 0o700 })
  const anchor = `${markers(root)}/${ANCHOR}`
  for (const d of made)
    try {
      linkSync(anchor, marker(root, d))
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EEXIST') continue // made again after another container's delete: still ours
      if (code === 'ENOENT')
        try {
          // no anchor yet, or the last delete removed it (and the directory) meanwhile
          mkdirSync(markers(root), { recursive: true, mode: 0o700 })
          writeFileSync(anchor, '', { flag: 'a', mode: 0o600 })
          linkSync(anchor, marker(root, d))
          continue
        } catch {}
      writeFileSync(marker(root, d), '')
    }
}

/** Removes the markers' directory once no parent is left to remember: only the anchor in it. */
function forgetMarkers(root: string): void {
  try {
    rmdirSync(markers(root))
  } catch {
    try {
      if (readdirSync(markers(root)).join('/') !== ANCHOR) return
      unlinkSync(`${markers(root)}/${ANCHOR}`)
      rmdirSync(markers(root)) // a marker linked meanwhile keeps it (and makes the anchor again)
    } catch {}
  }
}

/** Removes the container's groups, then each of their parents that cordon-oci made and that is
 * empty now (one still holding another container's group stays: rmdir refuses it). */
export function removeCgroups(root: string, dirs: readonly string[]): void {
  for (const d of dirs)
    try {
      rmdirSync(d)
      rmSync(marker(root, d), { force: true })
    } catch {}
  for (const d of dirs)
    for (let at = dirname(d); at.startsWith('/sys/fs/cgroup/'); at = dirname(at)) {
      if (!existsSync(marker(root, at))) break
      try {
        rmdirSync(at)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') break
      }
      rmSync(marker(root, at), { force: true })
    }
  forgetMarkers(root)
}
