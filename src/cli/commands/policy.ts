// cordon policy diff A B: what a policy change lets the sandboxed program do that it could not
// before (and the reverse), statement by statement.
import { existsSync } from 'node:fs'
import { CordonError, suggest } from '../../errors.js'
import { nativeArch } from '../../learn/learn.js'
import { ARCH_NAMES, archByName } from '../../seccomp/arch.js'
import { type Change, diffPolicies } from '../../policy/diff.js'
import { PROFILES } from '../../policy/profiles.js'
import type { ResolvedPolicy } from '../../policy/resolve.js'
import { paint } from '../output.js'
import { policyFromFlags } from '../policy-flags.js'
import { FlagError, parseCommand } from '../args.js'
import { fsPath } from '../../host/path-bytes.js'

const HELP = `Usage: cordon policy diff [--json] [--arch ARCH] A B

Compares two policies after resolving their \`extends\`: namespaces, network, identity, the
filesystem view, capabilities, every syscall's seccomp outcome on ARCH (default: this
machine's), TCP ports, Landlock rules, limits and environment. Each change is marked
  +  wider     B lets the program do something A refused
  -  narrower  B refuses something A allowed
  ~  changed   different, neither plainly more permissive (shown before → after)

A and B are policy files or built-in profile names (${Object.keys(PROFILES).join(', ')}).

      --json   {"version":1,"changes":[{area,subject,direction,from,to}],"summary":{...}}
      --arch   ${ARCH_NAMES.join(', ')}
  -h, --help   this help

Exit status: 0 when the policies are equivalent, 1 when they differ, 2 for bad usage.
`

/** A policy file, or a profile name when no such file exists. */
export function policyArgument(arg: string): ResolvedPolicy {
  if (!existsSync(fsPath(arg)) && PROFILES[arg]) return policyFromFlags({ profile: arg })
  if (!existsSync(fsPath(arg))) {
    const near = arg.includes('/') ? undefined : suggest(arg, Object.keys(PROFILES))
    throw new CordonError(
      'invalid_usage',
      `${arg}: no such policy file or profile${near ? `; did you mean \`${near}\`?` : ''} (profiles: ${Object.keys(PROFILES).join(', ')})`,
    )
  }
  return policyFromFlags({ policy: arg })
}

const NAMING =
  `name each as it is, a built-in profile (${Object.keys(PROFILES).join(', ')}) by its name ` +
  'and a file by its path, with no --profile or --policy: `cordon policy diff default ./app.yaml`'

const MARK = { wider: '+', narrower: '-', changed: '~' } as const

export function formatChanges(changes: Change[], color: ReturnType<typeof paint>): string[] {
  const tint = { wider: color.red, narrower: color.green, changed: color.yellow }
  const lines: string[] = []
  let area = ''
  for (const c of changes) {
    if (c.area !== area) lines.push(`${(area = c.area)}:`)
    lines.push(tint[c.direction](`  ${MARK[c.direction]} ${c.subject}: ${c.from} → ${c.to}`))
  }
  return lines
}

async function diffCommand(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseCommand(argv, { json: { type: 'boolean' }, arch: { type: 'string' } }, HELP)
  } catch (e) {
    // Every other command takes --profile/--policy; here A and B are named as they are.
    if (e instanceof FlagError && /`(--profile|--policy|-p)`/.test(e.message))
      throw new CordonError('invalid_usage', `${e.message.replace(/ \(.*$/, '')}: ${NAMING}`)
    throw e
  }
  if (!parsed) return 0
  const { values, positionals } = parsed
  if (positionals.length !== 2)
    throw new CordonError(
      'invalid_usage',
      `cordon policy diff takes two policies, A and B, got ${positionals.length}: ${NAMING}`,
    )
  const arch = values.arch ? archByName(values.arch)?.name : nativeArch()
  if (!arch)
    throw new CordonError('invalid_usage', `--arch must be ${ARCH_NAMES.join(', ')}, got \`${values.arch}\``)
  const changes = diffPolicies(policyArgument(positionals[0]!), policyArgument(positionals[1]!), arch)
  const count = (d: Change['direction']) => changes.filter((c) => c.direction === d).length
  const summary = { wider: count('wider'), narrower: count('narrower'), changed: count('changed') }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ version: 1, arch, changes, summary }, null, 2)}\n`)
  } else if (!changes.length) {
    process.stdout.write('the policies are equivalent\n')
  } else {
    const c = paint(process.stdout)
    const lines = formatChanges(changes, c)
    lines.push(
      '',
      `${summary.wider} wider, ${summary.narrower} narrower, ${summary.changed} changed` +
        (summary.wider ? c.dim(' — review the + lines: they grant more') : ''),
    )
    process.stdout.write(`${lines.join('\n')}\n`)
  }
  return changes.length ? 1 : 0
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = { diff: diffCommand }

export async function policyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(`Usage: cordon policy diff A B   (see cordon policy diff --help)\n`)
    return sub ? 0 : 2
  }
  const run = SUBCOMMANDS[sub]
  if (!run) throw new CordonError('invalid_usage', `unknown subcommand \`policy ${sub}\`; subcommands: diff`)
  return run(rest)
}
