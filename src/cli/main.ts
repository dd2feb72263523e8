// cordon's command dispatcher: maps errors to exit codes, loads each command on demand.
import { type Command, dispatch, guardStdout } from './dispatch.js'
import { formatTable, warn } from './output.js'
import { writeStderr } from '../host/stderr.js'
import { suggest } from '../errors.js'

const VERSION = '0.2.0'

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

/** The arguments as given, bytes that are not UTF-8 included (path-bytes.ts). */
export { rawArgs } from '../host/path-bytes.js'

/** What other tools call a command of ours (docker, systemctl, runc), for the unknown-command
 * hint: no spelling is near enough for suggest() to find it (helper-152: `cordon status`). */
const SYNONYMS: Readonly<Record<string, string>> = {
  status: 'ps',
  list: 'ps',
  ls: 'ps',
  top: 'ps',
  stop: 'kill',
  pause: 'freeze',
  resume: 'thaw',
  unpause: 'thaw',
  exec: 'run',
  start: 'run',
  doctor: 'check',
}

export async function main(argv: string[]): Promise<void> {
  // `cordon help COMMAND` is `cordon COMMAND --help`, as git and npm read it.
  if (argv[0] === 'help' && argv[1] !== undefined && COMMANDS[argv[1]]) return main([argv[1], '--help'])
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // Asked for, the help is the output (stdout, 0); with no command it is a usage error's
    // message (stderr, 2), as a mistyped command's is, and a pipe reading stdout gets nothing.
    if (!name) {
      writeStderr(HELP)
      process.exitCode = 2
      return
    }
    guardStdout()
    process.stdout.write(HELP)
    return
  }
  if (name === '--version' || name === '-V') {
    guardStdout()
    process.stdout.write(`cordon ${VERSION}\n`)
    return
  }
  const command = COMMANDS[name]
  if (!command && name.startsWith('-')) {
    // An option before any command: only cordon's own two are there (`-v` meant --version).
    warn(
      `unknown option \`${name}\` before the command; cordon --version (-V) prints the version, cordon --help lists the commands`,
    )
    process.exitCode = 2
    return
  }
  if (!command) {
    const close = SYNONYMS[name] ?? suggest(name, Object.keys(COMMANDS))
    warn(
      `unknown command \`${name}\`${close ? ` (did you mean \`${close}\`?)` : ''}; commands: ${Object.keys(COMMANDS).join(', ')} (see cordon --help)`,
    )
    process.exitCode = 2
    return
  }
  await dispatch(name, command.load, rest)
}
