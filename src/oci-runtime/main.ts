// cordon-oci: runc's command-line contract (global flags, subcommands, exit codes, JSON logs),
// so that containerd's runc shim, Docker, Podman and Kubernetes can use cordon as a runtime.
// Each subcommand loads only its own modules: start-up is measured against runc's.
import { appendFileSync } from 'node:fs'
import { isoTime } from '../host/iso-time.js'
import { callerCwd, hasEscapedBytes } from '../host/path-bytes.js'
import { escapeControl } from '../run/escape.js'

interface Global {
  root: string
  log: string | undefined
  logFormat: 'text' | 'json'
  debug: boolean
}

class UsageError extends Error {}

const USAGE = `Usage: cordon-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [ARGS]

An OCI runtime with runc's command line: config.json is carried out by cordon's launcher, with
Landlock rules derived from the container's mounts (annotation org.cordon.landlock=off drops them).

Commands: create, start, run, exec, update, state, kill, delete, pause, resume, list, ps, features
`

/** Splits flags (--a b, --a=b, -a b) from positional arguments; `bools` take no value, `values`
 * take one, anything else is refused (a typo must not swallow the next argument). `--help`
 * prints the command's flags and exits. */
function parseFlags(
  command: string,
  args: string[],
  bools: readonly string[],
  values: readonly string[] = [],
): { flags: Map<string, string>; rest: string[]; all: Map<string, string[]> } {
  const flags = new Map<string, string>()
  const all = new Map<string, string[]>() // every value of a repeated flag (exec --env)
  const rest: string[] = []
  const dash = (n: string) => (n.length === 1 ? `-${n}` : `--${n}`)
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--') {
      rest.push(...args.slice(i + 1))
      break
    }
    if (!a.startsWith('-') || a === '-' || rest.length > 0) {
      rest.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const name = (eq > 0 ? a.slice(0, eq) : a).replace(/^--?/, '')
    if (name === 'help' || name === 'h') {
      const all = [...values.map((v) => `${dash(v)} VALUE`), ...bools.map(dash)]
      process.stdout.write(
        `Usage: cordon-oci ${command} [flags] ${command === 'list' || command === 'features' ? '' : 'ID'}\n`,
      )
      if (all.length) process.stdout.write(`Flags: ${all.join(', ')}\n`)
      process.exit(0)
    }
    if (bools.includes(name)) {
      if (eq > 0) throw new UsageError(`${command}: flag ${dash(name)} takes no value`)
      flags.set(name, 'true')
    } else if (values.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i]
      if (v === undefined) throw new UsageError(`${command}: flag ${a} needs a value`)
      flags.set(name, v)
      all.set(name, [...(all.get(name) ?? []), v])
    } else {
      const known = [...values, ...bools].map(dash)
      throw new UsageError(
        `${command}: unknown flag ${a}${known.length ? ` (flags: ${known.join(', ')})` : ' (it takes none)'}`,
      )
    }
  }
  return { flags, rest, all }
}

function log(g: Global, level: string, msg: string): void {
  if (!g.log) return
  const time = isoTime()
  const line =
    g.logFormat === 'json'
      ? JSON.stringify({ level, msg, time })
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`
  try {
    appendFileSync(g.log, `${line}\n`)
  } catch {}
}

function parseGlobal(argv: string[]): { g: Global; command: string | undefined; args: string[] } {
  const g: Global = { root: '/run/cordon-oci', log: undefined, logFormat: 'text', debug: false }
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('-')) break
    const eq = a.indexOf('=')
    const name = eq > 0 ? a.slice(0, eq) : a
    const value = () => (eq > 0 ? a.slice(eq + 1) : argv[++i])
    if (name === '--root') g.root = value() ?? g.root
    else if (name === '--log') g.log = value()
    else if (name === '--log-format') {
      const f = value()
      if (f !== 'text' && f !== 'json') throw new UsageError(`--log-format: expected text or json, got ${f}`)
      g.logFormat = f
    } else if (name === '--debug') g.debug = true
    else if (name === '--systemd-cgroup')
      throw new UsageError(
        '--systemd-cgroup is not supported: cordon-oci manages cgroupfs paths; configure the engine with the cgroupfs driver (Docker: exec-opts native.cgroupdriver=cgroupfs; containerd: SystemdCgroup = false)',
      )
    else if (name === '--rootless') value()
    else if (name === '--help' || name === '-h') {
      process.stdout.write(USAGE)
      process.exit(0)
    } else if (name === '--version' || name === '-v') {
      process.stdout.write('cordon-oci version 0.2.0\nspec: 1.2.0\n')
      process.exit(0)
    } else throw new UsageError(`unknown global flag ${a}`)
  }
  return { g, command: argv[i], args: argv.slice(i + 1) }
}

function needId(rest: string[], command: string): string {
  const id = rest[0]
  if (!id) throw new UsageError(`${command}: give the container id`)
  return id
}

/** `create` and `run`'s flags and options. */
function createOptions(g: Global, command: string, args: string[]) {
  const { flags, rest } = parseFlags(
    command,
    args,
    ['detach', 'd', 'no-pivot', 'no-new-keyring', 'keep', 'no-subreaper'],
    ['bundle', 'b', 'pid-file', 'console-socket', 'preserve-fds'],
  )
  const o = {
    root: g.root,
    id: needId(rest, command),
    bundle: flags.get('bundle') ?? flags.get('b') ?? process.cwd(),
    preserveFds: Number(flags.get('preserve-fds') ?? 0),
    ...(flags.get('pid-file') ? { pidFile: flags.get('pid-file')! } : {}),
    ...(flags.get('console-socket') ? { consoleSocket: flags.get('console-socket')! } : {}),
    warn: (m: string) => log(g, 'warning', m),
  }
  return { flags, o }
}

async function dispatch(g: Global, command: string, args: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s.endsWith('\n') || s === '' ? s : `${s}\n`)
  switch (command) {
    case 'create':
    case 'run': {
      const { flags, o } = createOptions(g, command, args)
      if (flags.has('no-pivot')) log(g, 'warning', '--no-pivot ignored: cordon-oci always uses pivot_root')
      const c = await import('./create.js')
      if (command === 'create') {
        await c.create(o)
        return 0
      }
      const l = await import('./lifecycle.js')
      if (flags.has('detach') || flags.has('d')) {
        await c.create(o)
        l.start(g.root, o.id, (m) => log(g, 'warning', m))
        return 0
      }
      const code = await (await import('./run-foreground.js')).runForeground(o)
      if (!flags.has('keep')) l.remove(g.root, o.id, true)
      return code
    }
    case 'start': {
      const { rest } = parseFlags(command, args, [])
      const l = await import('./lifecycle.js')
      l.start(g.root, needId(rest, command), (m) => log(g, 'warning', m))
      return 0
    }
    case 'state': {
      const { rest } = parseFlags(command, args, [])
      const l = await import('./lifecycle.js')
      out(l.state(g.root, needId(rest, command)))
      return 0
    }
    case 'kill': {
      const { flags, rest } = parseFlags(command, args, ['all', 'a'])
      const l = await import('./lifecycle.js')
      l.kill(g.root, needId(rest, command), l.parseSignal(rest[1]), flags.has('all') || flags.has('a'))
      return 0
    }
    case 'delete': {
      const { flags, rest } = parseFlags(command, args, ['force', 'f'])
      const l = await import('./lifecycle.js')
      l.remove(g.root, needId(rest, command), flags.has('force') || flags.has('f'))
      return 0
    }
    case 'pause':
    case 'resume': {
      const { rest } = parseFlags(command, args, [])
      const l = await import('./lifecycle.js')
      l.pause(g.root, needId(rest, command), command === 'pause')
      return 0
    }
    case 'list': {
      const { flags } = parseFlags(command, args, ['quiet', 'q'], ['format', 'f'])
      const l = await import('./lifecycle.js')
      out(
        l.list(
          g.root,
          flags.get('format') ?? flags.get('f') ?? 'table',
          flags.has('quiet') || flags.has('q'),
        ),
      )
      return 0
    }
    case 'ps': {
      const { flags, rest } = parseFlags(command, args, [], ['format', 'f'])
      const l = await import('./lifecycle.js')
      out(l.ps(g.root, needId(rest, command), flags.get('format') ?? flags.get('f') ?? 'table'))
      return 0
    }
    case 'features': {
      parseFlags(command, args, [])
      out((await import('./features.js')).features())
      return 0
    }
    case 'exec': {
      const { flags, rest, all } = parseFlags(
        command,
        args,
        ['tty', 't', 'detach', 'd', 'no-new-privs', 'ignore-paused'],
        [
          'process',
          'p',
          'console-socket',
          'pid-file',
          'cwd',
          'env',
          'e',
          'user',
          'u',
          'additional-gids',
          'g',
          'cap',
          'c',
          'preserve-fds',
          'process-label',
          'apparmor',
          'cgroup',
        ],
      )
      for (const f of ['process-label', 'apparmor', 'cgroup'])
        if (flags.has(f)) throw new UsageError(`exec --${f} is not supported by cordon-oci`)
      const x = await import('./exec.js')
      const id = needId(rest, command)
      const file = flags.get('process') ?? flags.get('p')
      let proc
      if (file) {
        if (rest.length > 1) throw new UsageError('exec: give either --process or a command, not both')
        proc = x.readProcessFile(file)
      } else {
        const { loadExecContext } = await import('./exec-context.js')
        const { containerDir } = await import('./state.js')
        const init = loadExecContext(containerDir(g.root, id), id).config.process
        if (!init) throw new UsageError(`container "${id}" has no process to base the exec on`)
        const list = (...names: string[]) => names.flatMap((n) => all.get(n) ?? [])
        const cwd = flags.get('cwd')
        const user = flags.get('user') ?? flags.get('u')
        proc = x.processFromFlags(init, rest.slice(1), {
          tty: flags.has('tty') || flags.has('t'),
          env: list('env', 'e'),
          additionalGids: list('additional-gids', 'g').flatMap((s) => s.split(',')),
          caps: list('cap', 'c'),
          noNewPrivs: flags.has('no-new-privs'),
          ...(cwd ? { cwd } : {}),
          ...(user ? { user } : {}),
        })
      }
      return await x.execProcess({
        root: g.root,
        id,
        process: proc,
        detach: flags.has('detach') || flags.has('d'),
        preserveFds: Number(flags.get('preserve-fds') ?? 0),
        ...(flags.get('pid-file') ? { pidFile: flags.get('pid-file')! } : {}),
        ...(flags.get('console-socket') ? { consoleSocket: flags.get('console-socket')! } : {}),
      })
    }
    case 'update': {
      const u = await import('./update.js')
      const { flags, rest } = parseFlags(
        command,
        args,
        [],
        ['resources', 'r', ...Object.keys(u.UPDATE_FLAGS)],
      )
      const id = needId(rest, command)
      u.update(g.root, id, u.resourcesFrom(flags.get('resources') ?? flags.get('r'), flags))
      return 0
    }
    case 'checkpoint':
    case 'restore':
    case 'events':
      throw new UsageError(`${command} is not supported yet by cordon-oci`)
    default:
      throw new UsageError(
        `unknown command ${command}; commands: create start run exec update state kill delete pause resume list ps features`,
      )
  }
}

/** The arguments as given, bytes that are not UTF-8 escaped (host/path-bytes.ts). */
export { rawArgs } from '../host/path-bytes.js'

/** Engines give the runtime UTF-8 paths. A path with other bytes, in an argument or as the
 * working directory (the default bundle), is refused rather than carried: Node writes each such
 * byte of a string as U+FFFD, so a bundle, --root, --pid-file or --console-socket named a sibling
 * that another user could make (a root cordon-oci run by hand from /tmp/b\xff ran the config
 * planted in /tmp/b\xef\xbf\xbd). */
function refuseRawBytes(argv: readonly string[]): void {
  const raw = [...argv, callerCwd()].find(hasEscapedBytes)
  if (raw !== undefined)
    throw new UsageError(
      `${escapeControl(raw)}: not UTF-8; cordon-oci takes UTF-8 paths only (the working directory too): rename it, or run from another directory`,
    )
}

/** Runs the command line; returns the exit status (runc's: 0, or 1 on any error). */
export async function main(argv: string[]): Promise<number> {
  let g: Global = { root: '/run/cordon-oci', log: undefined, logFormat: 'text', debug: false }
  try {
    refuseRawBytes(argv)
    const parsed = parseGlobal(argv)
    g = parsed.g
    if (!parsed.command) {
      process.stderr.write(USAGE)
      return 1
    }
    return await dispatch(g, parsed.command, parsed.args)
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e)
    log(g, 'error', msg)
    process.stderr.write(`cordon-oci: ${msg}\n`)
    if (g.debug && e instanceof Error && !(e instanceof UsageError)) process.stderr.write(`${e.stack}\n`)
    return 1
  }
}

/** Build step only (bin/cordon-oci.cjs writeCodeCache, warm-up.ts): an engine's `create` command
 * line parsed and the container prepared in a scratch directory, with no cgroup and no launcher,
 * so that the bundle's code cache holds create's functions compiled. */
export async function warmUp(): Promise<void> {
  const w = await import('./warm-up.js')
  const s = w.scratch()
  try {
    const { g, command, args } = parseGlobal([
      '--root',
      s.root,
      '--log',
      s.log,
      '--log-format',
      'json',
      'create',
      '--bundle',
      s.bundle,
      '--pid-file',
      s.pidFile,
      'warm-up',
    ])
    const { o } = createOptions(g, command!, args)
    const c = await import('./create.js')
    await c.rehearseCreate(o, s.hierarchies)
  } finally {
    s.cleanup()
  }
}
