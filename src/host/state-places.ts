// Where cordon keeps a caller's host-side state (the registry, event sockets, the OCI runtimes'
// --root, root's filed plans): /run/cordon for root, $XDG_RUNTIME_DIR/cordon, else
// /tmp/cordon-UID/cordon. run/state-dir.ts makes and checks them; plan/state-mask.ts hides
// every one of them from the sandbox's view. Paths only: nothing here touches the host.
import { join } from 'node:path'

/** Where the state of a caller with this uid and XDG_RUNTIME_DIR (undefined: none) lives: the
 * existing base directory and the components cordon creates under it, outermost first (the last
 * is the state directory). Both given: a default for `xdg` would read an explicit undefined (no
 * XDG_RUNTIME_DIR) as this process's. */
export function stateLayout(uid: number, xdg: string | undefined): { base: string; create: string[] } {
  if (uid === 0) return { base: '/run', create: ['/run/cordon'] }
  if (xdg) return { base: xdg, create: [join(xdg, 'cordon')] }
  const own = `/tmp/cordon-${uid}`
  return { base: '/tmp', create: [own, join(own, 'cordon')] }
}

/** The XDG_RUNTIME_DIR values a user's processes may run under: a user's processes do not all
 * see one (a shell has this process's, cron and some ssh sessions none, a login session the
 * usual /run/user/UID), and each keeps its state at its own place. Root's state ignores it. */
export function xdgPlaces(uid: number, env: NodeJS.ProcessEnv = process.env): (string | undefined)[] {
  if (uid === 0) return [env.XDG_RUNTIME_DIR]
  return [...new Set([env.XDG_RUNTIME_DIR, undefined, `/run/user/${uid}`])]
}

/** This process's own state layout. */
export const ownStateLayout = () => stateLayout(process.getuid?.() ?? 0, process.env.XDG_RUNTIME_DIR)
