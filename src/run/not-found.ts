// Why a command the sandbox could not find (exec: ENOENT) is missing, judged on the host: the
// launcher only knows the name was not there. The usual causes, each with its fix: a policy that
// shows no files at all (no `extends`), and a program reached through a link that leaves the view
// (Debian's /usr/bin/cc → /etc/alternatives/cc, which `--profile minimal` does not show).
import { accessSync, closeSync, constants, existsSync, openSync, readSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import type { ResolvedPolicy, ViewEntry } from '../policy/resolved.js'
import { visibleInView } from '../plan/view.js'
import { hostPathIn, mountAt, statementOf } from '../policy/view-paths.js'
import { interpreterOf, resolveOnHost } from '../host/paths.js'
import { fsPath } from '../host/path-bytes.js'
import { shortened } from './shortened.js'

/** The default PATH the launcher's exec searches when the policy sets none (execvp's). */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin'

/** A sentence on why `command` was not found in the sandbox of `policy`, started from `cwd`, and
 * what to do; undefined when nothing on the host explains it. */
export function notFoundHint(policy: ResolvedPolicy, name: string, cwd: string): string | undefined {
  if (policy.namespaces.mount && policy.filesystem.length === 0)
    return 'the policy shows the sandbox no files at all (it extends no profile): begin it with `extends: [default]` (or `[minimal]`)'
  // A passed variable is the launcher's own, which overrides a set one (plan/compile.ts).
  const path = (policy.env.pass.includes('PATH') ? process.env.PATH : policy.env.set.PATH) ?? DEFAULT_PATH
  const found = onHost(name, path, cwd)
  // As the lines say it: the whole name is the event's (helper-117: a 60 KB name came back here).
  const command = shortened(name)
  if (!found && name.includes('/'))
    return `${command} is not on this host either: there is no such file (from ${cwd})`
  if (!found) {
    // Tools installed per user (~/.cargo/bin, pyenv's shims) are on the caller's PATH only.
    const yours = process.env.PATH ? onHost(name, process.env.PATH, cwd) : undefined
    if (!yours)
      return `${command} is not on this host either: no directory of the sandbox's PATH (${path}) holds it`
    const dir = dirname(yours)
    const needs = toolNeeds(yours)
    const binds = policy.namespaces.mount
      ? needs.binds.filter((b) => !visibleInView(policy.filesystem, b)).map((b) => `--ro ${b}`)
      : []
    const show = [...binds, ...needs.env.map((v) => `--env ${v}`)].map((f) => `${f} `).join('')
    return (
      `${command} is ${yours} on your PATH, in a directory the sandbox's PATH (${path}) does not search: ` +
      `run it by its path (\`cordon run ${show}-- ${yours}\`), or add the directory to the sandbox's ` +
      `(\`--env PATH=${dir}:${path}\`${show ? ` with \`${show.trim()}\`` : ''})` +
      (needs.why ? `; ${needs.why}` : '')
    )
  }
  return hiddenHint(policy, command, found)
}

/** Why the sandbox of `policy` cannot run `name`, a program this host has, started from `cwd`:
 * the view hides it or what runs it (an export's unit would not start: systemd.ts). undefined
 * when the view shows it all, or this host has no such program (a unit for another host). */
export function hiddenProgramHint(policy: ResolvedPolicy, name: string, cwd: string): string | undefined {
  const path = (policy.env.pass.includes('PATH') ? process.env.PATH : policy.env.set.PATH) ?? DEFAULT_PATH
  const found = onHost(name, path, cwd)
  return found ? hiddenHint(policy, shortened(name), found) : undefined
}

/** notFoundHint's for a program found on the host at `found`. */
function hiddenHint(policy: ResolvedPolicy, command: string, found: string): string | undefined {
  if (!policy.namespaces.mount) return undefined
  const entries = policy.filesystem
  const program = missingOnTheWay(entries, found)
  if (program)
    return `${command} is ${program.chain} on this host, and ${isOrAre(program.missing)} in the sandbox's view: add \`--ro ${program.bind}\``
  // The program is there: what the kernel opens to run it (the ELF loader, a #! interpreter) may not be.
  const interpreter = interpreterOf(resolveOnHost(found).real)
  if (!interpreter?.startsWith('/')) return undefined
  const loader = missingOnTheWay(entries, interpreter)
  if (!loader) return undefined
  const what = readsAsScript(found) ? 'its #! interpreter' : 'its loader'
  return `${command} is ${found} on this host, and ${what} ${loader.chain} is not in the sandbox's view (${isOrAre(loader.missing).replace(/ not$/, '')} missing): add \`--ro ${loader.bind}\``
}

/** The pieces of the way to `path` (each symlink on it, and where it leads) that the view
 * lacks: the way as the host resolves it, the pieces, and the binds that show them (a bind of a
 * symlink reproduces the link in the view). undefined when the view shows it all. */
function missingOnTheWay(
  entries: ViewEntry[],
  path: string,
): { chain: string; missing: string; bind: string } | undefined {
  const { real, links } = resolveOnHost(path)
  const chain = links.length ? `${path} → ${real}` : path
  const shown = (p: string) =>
    visibleInView(entries, p) || entries.some((e) => e.kind === 'symlink' && e.dest === p)
  const pieces = links.map(([l]) => l).filter((l) => !shown(l))
  const binds = [...pieces]
  if (!shown(real)) {
    pieces.push(real)
    binds.push(dirname(real))
  }
  if (!pieces.length) return undefined
  return {
    chain,
    missing: pieces.length === 1 ? pieces[0]! : `${pieces.join(', ')} are`,
    bind: [...new Set(binds)].join(' --ro '),
  }
}

/** `X is not`, or for several pieces (`X, Y are`) `X, Y are not`. */
const isOrAre = (missing: string) => (missing.endsWith(' are') ? `${missing} not` : `${missing} is not`)

/** Whether the file starts with #! (else its interpreter is an ELF loader). */
function readsAsScript(file: string): boolean {
  try {
    const fd = openSync(fsPath(file), 'r')
    try {
      const head = Buffer.alloc(2)
      return readSync(fd, head, 0, 2, 0) === 2 && head.toString('latin1') === '#!'
    } finally {
      closeSync(fd)
    }
  } catch {
    return false
  }
}

/** The host file `command` names, searched on `path` as execvp does when it has no slash. */
function onHost(command: string, path: string, cwd: string): string | undefined {
  const candidates = command.includes('/')
    ? [resolve(cwd, command)]
    : path.split(':').map((dir) => resolve(cwd, dir || '.', command))
  return candidates.find((file) => {
    try {
      accessSync(fsPath(file), constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** Why the sandbox's working directory (`cwd`, its own path) is missing, judged on the host: the
 * launcher only knows chdir found nothing. A newcomer's `--cwd nosuch` in the project was told to
 * show it with `--ro`, which then failed for a directory that does not exist. */
export function chdirHint(policy: ResolvedPolicy, cwd: string): string | undefined {
  if (!policy.namespaces.mount) return undefined
  const at = mountAt(policy.filesystem, cwd)
  if (!at) return undefined
  const place = `\`${statementOf(at)}\``
  if (at.kind !== 'bind')
    return `${shortened(cwd)} is in ${place}, which starts empty: choose another (\`--cwd DIR\`), or make it there (a policy's \`mkdir: ${shortened(cwd)}\`)`
  const host = hostPathIn(policy.filesystem, cwd)!
  if (existsSync(fsPath(host))) return undefined
  return `${place} shows the host's ${shortened(host)} there, which does not exist: create it (\`mkdir -p ${shortened(host)}\`) or choose another (\`--cwd DIR\`)`
}

/** What a tool on the caller's PATH needs shown besides its file: its directory, and where its
 * link leads (npm → ../lib/node_modules/…); for the per-user managers that newcomers meet, their
 * whole tree (pyenv's shims run $PYENV_ROOT/libexec/pyenv; rustup's proxies, cargo among them,
 * read ~/.rustup, found through RUSTUP_HOME since the sandbox's HOME is /tmp). */
function toolNeeds(file: string): { binds: string[]; env: string[]; why?: string } {
  const { real } = resolveOnHost(file)
  const shims = /^(.*\/\.pyenv)\/shims\/[^/]+$/.exec(file)
  if (shims)
    return {
      binds: [shims[1]!],
      env: [],
      why: `pyenv's shims run ${shims[1]}/libexec/pyenv, hence all of ${shims[1]}`,
    }
  if (real.endsWith('/rustup')) {
    const home = process.env.HOME ?? '/root'
    const rustup = process.env.RUSTUP_HOME ?? `${home}/.rustup`
    const cargo = process.env.CARGO_HOME ?? dirname(dirname(real))
    return {
      binds: [cargo, rustup],
      env: [`RUSTUP_HOME=${rustup}`, `CARGO_HOME=${cargo}`],
      why: `${basename(file)} is rustup's proxy, which reads its toolchains from ${rustup}`,
    }
  }
  const dirs = [dirname(file), dirname(real)]
  // The nearest directory holding both (a version's tree: nvm's node/vX), else each.
  let common = dirs[0]!
  while (!(dirs[1] === common || dirs[1]!.startsWith(`${common}/`))) common = dirname(common)
  return { binds: common === '/' ? [...new Set(dirs)] : [common], env: [] }
}
