// cordon verify [policy options] [--json]: the escape battery against a policy, on this kernel.
import { CordonError } from '../../errors.js'
import { parseBackend } from '../../backends/runtime.js'
import { PROBES } from '../../verify/battery.js'
import { type ProbeResult, verify } from '../../verify/verify.js'
import { paint } from '../output.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags, policyLabel } from '../policy-flags.js'
import { parseCommand } from '../args.js'

const HELP = `Usage: cordon verify [POLICY] [policy options] [--backend NAME] [--json] [--probe NAME...]

Runs an escape test battery inside a sandbox built from the policy (the default profile unless
policy options say otherwise), against real targets on this host: a host process to ptrace and
kill, TCP/UDP ports and an abstract UNIX socket listening on the host's loopback, host
directories to write into, a setuid-root fixture that takes no arguments (as root, in a 0700
directory removed on every exit), a writable bind to plant setuid files in, the host's
/dev/null, zero and full, root-only files and kernel tables, /proc/sys, the launcher's
/proc/PID/exe, the i386 and x32 entry points, privileged calls (mount, chroot, pivot_root,
module loading, reboot, kexec, swapon, clock), kernel interfaces with a history of exploits
(bpf, perf_event_open, io_uring, userfaultfd, keyctl), TIOCSTI, device nodes, a fork bomb and
memory exhaustion; and, for modes without a view, a host process's /proc knob, unlisted host
devices, the host's /tmp and a pathname UNIX socket. Each attack is reported blocked — with the layer that stopped it — or NOT
blocked. Privileged probes are made harmless: they use arguments that fail right after the
permission check.

Probes: ${PROBES.map((p) => p.name).join(', ')}

${POLICY_HELP}

      --probe NAME  run only this probe (repeatable)
      --backend NAME  native (default), runc or gvisor: the battery through that backend
                    (cordon run --backend), the same verdicts expected of each
      --json        {"version":1,"results":[{probe,attack,target,outcome,expected,by,...}],"failures":N}
  -q, --quiet       no progress line (it shows only when stderr is a terminal, never with --json)
  -h, --help        this help

Exit status: 0 when every probe the policy should block was blocked, 1 otherwise.
`

export async function verifyCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    {
      ...POLICY_OPTIONS,
      json: { type: 'boolean' },
      probe: { type: 'string', multiple: true },
      backend: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  for (const name of values.probe ?? [])
    if (!PROBES.some((p) => p.name === name))
      throw new CordonError(
        'invalid_usage',
        `--probe: unknown probe \`${name}\`; probes: ${PROBES.map((p) => p.name).join(', ')}`,
      )
  const policy = policyFromFlags(values, positionals[0])
  const tty = process.stderr.isTTY && !values.json && !values.quiet
  const started = Date.now()
  const progress = (done: number, total: number) =>
    process.stderr.write(
      `\r\u001b[2Kcordon: escape battery ${done}/${total} probe runs, ${((Date.now() - started) / 1000).toFixed(0)} s`,
    )
  const backend = parseBackend(values.backend)
  const result = await verify(policy, {
    ...(values.probe ? { only: values.probe } : {}),
    backend,
    ...(tty ? { onProgress: progress } : {}),
  })
  if (tty) process.stderr.write('\r\u001b[2K')
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    return result.failures ? 1 : 0
  }
  const c = paint(process.stdout)
  const line = (r: ProbeResult) => {
    const what = `${r.probe}${r.target ? ` (${r.target})` : ''}`
    if (r.outcome === 'blocked')
      return `  ${c.green('blocked    ')} ${what.padEnd(40)} ${c.dim([r.by, [r.call, r.errno].filter(Boolean).join(' ')].filter(Boolean).join(' · '))}`
    if (r.outcome === 'skipped')
      return `  ${c.dim(r.unsupported ? 'n/a        ' : 'skipped    ')} ${what.padEnd(40)} ${c.dim(r.reason ?? '')}`
    const mark = r.expected ? c.red('NOT BLOCKED') : c.yellow('allowed    ')
    const note = r.expected ? (r.detail ?? '') : `${r.reason ?? ''}${r.detail ? ` (${r.detail})` : ''}`
    return `  ${r.outcome === 'error' ? c.red('ERROR      ') : mark} ${what.padEnd(40)} ${note}`
  }
  const label = policyLabel(values, positionals[0])
  const lines = [
    `cordon verify — ${label}${backend === 'native' ? '' : ` on ${backend}`}`,
    ...(result.harnessRefused
      ? [
          c.dim(
            `  (the policy refuses the probe harness ${result.harnessRefused.join(', ')}: each attack ran alone, in a sandbox of its own)`,
          ),
        ]
      : []),
    ...result.results.map(line),
    '',
  ]
  const blocked = result.results.filter((r) => r.outcome === 'blocked').length
  const na = result.results.filter((r) => r.unsupported).length
  const allowed = result.results.filter((r) => !r.expected && r.outcome === 'escaped').length
  const skipped = result.results.filter((r) => r.outcome === 'skipped' && !r.unsupported).length
  // Every result is counted once: blocked, allowed, skipped, not applicable, or got through.
  const rest = [
    allowed ? `${allowed} allowed (by the policy, or by a layer this host does not give: see each line)` : '',
    skipped ? `${skipped} skipped (see why above)` : '',
    na ? `${na} not applicable on this host` : '',
  ].filter(Boolean)
  // An attack that could not be tried is no escape, and no block either: said apart (a learned
  // allowlist that refused the probe harness a call read as 73 escapes: helper-152).
  const escaped = result.results.filter((r) => r.expected && r.outcome === 'escaped').length
  const errors = result.results.filter((r) => r.expected && r.outcome === 'error').length
  const failed = [
    escaped ? `${escaped} attack(s) the policy should stop got through.` : '',
    errors
      ? `${errors} attack(s) could not be tried (ERROR above): nothing is proven about them; where all fail at once, the policy refuses the probe program a call it needs to start or to print (the sandbox's exit says how it ended).`
      : '',
  ].filter(Boolean)
  lines.push(
    result.failures
      ? c.red(failed.join(' '))
      : c.green(
          `no escapes: every attack the policy should stop was blocked (${blocked} blocked of ${result.results.length}).`,
        ) + (rest.length ? c.dim(` ${rest.join('; ')}.`) : ''),
  )
  process.stdout.write(`${lines.join('\n')}\n`)
  return result.failures ? 1 : 0
}
