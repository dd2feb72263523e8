// cordon's command dispatcher: maps errors to exit codes, loads each command on demand.
import { CordonError } from '../errors.js'
import { FlagError } from './args.js'
import { loadFilterCompiler } from '../plan/lazy-filter.js'
import { formatTable, warn } from './output.js'

const VERSION = '0.2.0'

type Command = (argv: string[]) => Promise<number>

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  run: {
    summary: 'run a command in a sandbox',
    load: async () => (await import('./commands/run.js')).runCommand,
  },
  learn: {
    summary: 'trace a run and write the least-privilege policy for it',
    load: async () => (await import('./commands/learn.js')).learnCommand,
  },
  policy: {
    summary: 'compare two policies: what each change grants or takes away',
    load: async () => (await import('./commands/policy.js')).policyCommand,
  },
  verify: {
    summary: 'run an escape test battery against a policy on this host',
    load: async () => (await import('./commands/verify.js')).verifyCommand,
  },
  export: {
    summary: 'write the policy for Docker, Kubernetes, systemd, OCI runtimes (runc, runsc)',
    load: async () => (await import('./commands/export.js')).exportCommand,
  },
  advise: {
    summary: 'which backend and layers for a workload on this host, and what it costs',
    load: async () => (await import('./commands/advise.js')).adviseCommand,
  },
  report: {
    summary: 'a policy’s posture on this host: layers, syscall coverage, reach, controls',
    load: async () => (await import('./commands/report.js')).reportCommand,
  },
  check: {
    summary: 'what this kernel can enforce, and fixes',
    load: async () => (await import('./commands/check.js')).checkCommand,
  },
  compile: {
    summary: 'compile a policy to a plan for cordon-exec',
    load: async () => (await import('./commands/compile.js')).compileCommand,
  },
  plan: {
    summary: 'show the operations a policy compiles to',
    load: async () => (await import('./commands/plan.js')).planCommand,
  },
  ps: {
    summary: 'list running sandboxes, their limits and usage',
    load: async () => (await import('./commands/sandboxes.js')).psCommand,
  },
  freeze: {
    summary: 'freeze a running sandbox (cgroup freezer)',
    load: async () => (await import('./commands/sandboxes.js')).freezeCommand,
  },
  thaw: {
    summary: 'thaw a frozen sandbox',
    load: async () => (await import('./commands/sandboxes.js')).thawCommand,
  },
  monitor: {
    summary: 'watch running sandboxes and act on rules (freeze, kill, alert)',
    load: async () => (await import('./commands/monitor.js')).monitorCommand,
  },
  kill: {
    summary: 'kill every process of a sandbox',
    load: async () => (await import('./commands/sandboxes.js')).killCommand,
  },
  seccomp: {
    summary: 'compile, disassemble, explain and test the syscall filter',
    load: async () => (await import('./commands/seccomp.js')).seccompCommand,
  },
  schema: {
    summary: 'print the policy JSON Schema',
    load: async () => (await import('./commands/schema.js')).schemaCommand,
  },
  completion: {
    summary: 'print a bash, zsh or fish completion script',
    load: async () => {
      const { completionCommand } = await import('./commands/docs.js')
      return (argv) => completionCommand(argv, commandDocs)
    },
  },
  man: {
    summary: 'print the manual page cordon(1), made from the --help texts',
    load: async () => {
      const { manCommand } = await import('./commands/docs.js')
      return (argv) => manCommand(argv, commandDocs, VERSION, HELP)
    },
  },
}

/** Every command's --help, as it prints it (the completion scripts and the man page are made
 * from these, so they cannot drift from what the commands accept). */
async function commandDocs(): Promise<{ name: string; summary: string; help: string }[]> {
  const docs = []
  // Saved to be put back on process.stdout below, never called apart from it.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const write = process.stdout.write
  for (const [name, c] of Object.entries(COMMANDS)) {
    const run = await c.load()
    const { optionValues } = await import('./option-values.js')
    let help = ''
    process.stdout.write = (chunk: string | Uint8Array) => {
      help += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
      return true
    }
    try {
      await run(['--help'])
    } finally {
      process.stdout.write = write
    }
    docs.push({ name, summary: c.summary, help, values: optionValues(name) })
  }
  return docs
}

const HELP = `cordon ${VERSION} — run programs under layered Linux isolation

Usage: cordon <command> [options]

Commands:
${formatTable(Object.entries(COMMANDS).map(([name, c]) => ['', name, c.summary])).join('\n')}

Run \`cordon <command> --help\` for a command's options.
Examples:
  cordon run -- sh -c 'id; hostname; ls /'
  cordon run --rw . --net loopback -- make test
  cordon compile policy.yaml -o app.plan && cordon-exec app.plan -- ./app
`

/** Commands whose exit status is the program's: any status of cordon's own could be mistaken
 * for the program's, so all of them are 125 (as env, timeout and chroot do). */
const RUNS_A_PROGRAM = new Set(['run', 'learn'])

/** Exit status for bad input: 2, or 125 where the status is otherwise the program's. */
const usageStatus = (command: string) => (RUNS_A_PROGRAM.has(command) ? 125 : 2)

/** Exit status for a failure before the command ran (README: "Exit status"). */
function failureStatus(error: CordonError, command: string): number {
  return error.code === 'invalid_policy' || error.code === 'invalid_usage' || error.code === 'invalid_rules'
    ? usageStatus(command)
    : 125
}

/** The arguments as given, bytes that are not UTF-8 included (path-bytes.ts). */
export { rawArgs } from '../host/path-bytes.js'

export async function main(argv: string[]): Promise<void> {
  // `cordon … | head` closes stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP)
    process.exitCode = name ? 0 : 2
    return
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`cordon ${VERSION}\n`)
    return
  }
  const command = COMMANDS[name]
  if (!command) {
    warn(`unknown command \`${name}\`; commands: ${Object.keys(COMMANDS).join(', ')} (see cordon --help)`)
    process.exitCode = 2
    return
  }
  try {
    // The seccomp compiler loads with every command that may compile a plan; `run` loads it
    // only when its policy's filter is not precompiled (lazy-filter.ts).
    if (name !== 'run') await loadFilterCompiler()
    process.exitCode = await (await command.load())(rest)
  } catch (error) {
    if (error instanceof CordonError) {
      // One escaped line each: a policy error lists its problems on lines of their own.
      const text = error instanceof FlagError ? `${error.message}; see cordon ${name} --help` : error.message
      for (const line of text.split('\n')) warn(line)
      process.exitCode = failureStatus(error, name)
    } else if (isFsError(error)) {
      warn(describeFsError(error))
      process.exitCode = usageStatus(name)
    } else {
      warn(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
      process.exitCode = 125
    }
  }
}

/** An error of a file the user named (an -o output, a --policy input): fs errors carry the
 * path and the call. */
function isFsError(e: unknown): e is NodeJS.ErrnoException & { path: string } {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).path === 'string' && 'syscall' in e
}

const FS_REASONS: Record<string, string> = {
  ENOENT:
    'it, or a directory on the way to it, does not exist; cordon does not create directories: make it first',
  EACCES: 'permission denied; pick a path you can write',
  EPERM: 'not permitted; pick a path you can write',
  EISDIR: 'it is a directory; give a file name',
  ENOTDIR: 'a part of the path is not a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EEXIST: 'it already exists',
}

function describeFsError(e: NodeJS.ErrnoException & { path: string }): string {
  const reason = FS_REASONS[e.code ?? ''] ?? e.message
  return `${e.path}: ${reason} (${e.code ?? e.syscall})`
}
