// cordon check [--json|-q]: what this kernel can enforce, with a fix for each missing piece.
import { hostFacts } from '../../host/probe.js'
import { hostChecks } from '../../host/report.js'
import { unusedLater } from '../../landlock/rights.js'
import { enforcementStatus, hostContext } from '../../status/context.js'
import { unacceptedGaps } from '../../status/statements.js'
import { statementLines } from '../../status/describe.js'
import { paint } from '../output.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags, policyLabel, withPolicyFile } from '../policy-flags.js'
import { cwdRefusal, runRefusal } from '../run-refusal.js'
import { parseCommand } from '../args.js'
import { starter } from '../../run/launcher-process.js'
import { parseBackend, type RuntimeBackend } from '../../backends/runtime.js'
import type { Check } from '../../host/report.js'

const HELP = `Usage: cordon check [--json|-q] [--backend NAME] [policy options]

Asks the kernel what it lets this user do: mount API, user namespaces (for you and, when run as
root, for unprivileged users), each namespace, seccomp actions, Landlock ABI, audit, cgroup
layout, and what the escape battery (cordon verify) meets here: the i386 entry (int 0x80), the
x32 ABI, the kernel switches for io_uring, userfaultfd, perf_event and bpf — then, for a
policy (the default profile unless policy options say otherwise), which layers enforce each of
its statements here: full, partial or none. With --backend runc or gvisor: whether that runtime
runs here (it is asked to run ls /), and the statements as it enforces them.
Exit status 0 when \`cordon run\` can work for this user with this policy, 1 otherwise: a policy
that \`cordon run\` would refuse here (a statement no layer enforces, not acknowledged; a flag's
missing source; a mount point it would make in a host directory) is named at the end, in the
run's words. A current directory the run refuses to start from (a home, /tmp) is said too.

${POLICY_HELP}

      --backend NAME  native (default), runc or gvisor
      --json   machine-readable report ({"version":1,...})
  -q, --quiet  no report, the exit status alone (for scripts: \`cordon check -q && …\`); what
               stops \`cordon run\` here, if anything, still goes to stderr
  -h, --help   this help
`

export async function checkCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    {
      ...POLICY_OPTIONS,
      backend: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  const facts = hostFacts()
  const checks = hostChecks(facts)
  // Rights of newer ABIs than this cordon handles: said, not silently left out.
  const later = unusedLater(facts.probe.landlock.abi)
  const landlockCheck = checks.find((c) => c.id === 'landlock')
  if (later && landlockCheck) landlockCheck.detail += `; ${later}`
  // Where this caller's sandboxes get their groups (the host facts above are the same for all).
  const host = hostContext(facts.probe)
  const access = host.cgroup
  const cgroupCheck = checks.find((c) => c.id === 'cgroups')
  // The mark is this caller's, not the host's: cgroups a plain user cannot use are not a ✓.
  if (cgroupCheck && cgroupCheck.status === 'ok' && process.getuid?.() !== 0) {
    if (access.delegated) {
      cgroupCheck.detail += `; this user's groups go in ${access.delegated} (controllers: ${access.controllers?.join(' ') || 'none'})`
    } else {
      cgroupCheck.status = 'partial'
      cgroupCheck.detail += `; ${access.why}: limits are rlimits only (RLIMIT_NPROC for pids)`
      // Only a v2 tree with the controllers can be delegated: a hybrid host keeps them in v1.
      cgroupCheck.fix = facts.cgroup.v2Controllers.some((c) => c === 'memory' || c === 'pids')
        ? 'run cordon as root for cgroup limits, or delegate a cgroup v2 subtree with the memory and pids ' +
          'controllers to this user (systemd-run --user --scope -p Delegate=yes cordon run …)'
        : `run cordon as root for cgroup limits: this host keeps its controllers in cgroup v1 (${facts.cgroup.layout}), ` +
          'which is never delegated to a user (a host booted with the unified hierarchy can delegate a v2 subtree)'
    }
  }
  // How spawn() and `cordon run` start the launcher: a property of this install, not the host.
  const addon = starter() === 'addon'
  checks.push({
    id: 'launcher-start',
    title: 'launcher start',
    status: addon ? 'ok' : 'partial',
    detail: addon
      ? "cordon's addon (posix_spawn, held by a pidfd)"
      : process.env.CORDON_SPAWN === 'child_process'
        ? 'child_process (CORDON_SPAWN=child_process)'
        : 'child_process: the addon (build/native/cordon-spawn.node) is not built or this kernel has no pidfds (5.4)',
    ...(addon
      ? {}
      : { fix: 'npm rebuild cordon with a C compiler (cc) installed; spawn() is ~8% faster with the addon' }),
    required: false,
  })
  const backend = parseBackend(values.backend)
  const policy = policyFromFlags(values, positionals[0])
  if (backend !== 'native') checks.push(await runtimeCheck(backend))
  const usable = checks.every((c) => !c.required || c.status !== 'missing')
  const statements =
    backend === 'native'
      ? enforcementStatus(policy, host)
      : (await import('../../backends/status.js')).backendStatus(policy, backend, { abi: 0 })
  // What `cordon run` refuses up front (refuseUnenforced): said here too, or the verdict below
  // read as a yes for a policy that run turns down. A runtime run refuses only the ports and
  // abstract sockets no layer judges (backends/status.ts refuseUnenforcedOnBackend).
  const refused = (
    backend === 'native'
      ? unacceptedGaps(policy, statements)
      : (await import('../../backends/status.js')).unenforcedOnBackend(policy, statements)
  ).map((g) => g.statement)
  // Everything else the run refuses before it starts (a flag's missing source, a mount point it
  // would make in a host directory, …), in its words: a refused policy fails the check, as a
  // missing piece does (`cordon check -q && cordon run …`). Where the caller stands (a home,
  // /tmp) is said, but fails nothing: it is no fact of the host or the policy.
  const flags = withPolicyFile(values, positionals[0])
  const refusal = await runRefusal(flags, policy, backend, statements, { here: false })
  const cwdNote = await cwdRefusal(flags)
  const ok = usable && refusal === undefined
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ version: 1, usable, kernel: facts.kernel, arch: facts.arch, checks, statements, refused, ...(refusal ? { refusal } : {}), ...(cwdNote ? { here: cwdNote } : {}), facts }, null, 2)}\n`,
    )
    return ok ? 0 : 1
  }
  if (values.quiet) {
    const c = paint(process.stderr)
    const lines = checks
      .filter((check) => check.required && check.status === 'missing')
      .map(
        (check) =>
          `cordon: ${c.red('✗')} ${check.title}: ${check.detail}${check.fix ? ` (fix: ${check.fix})` : ''}`,
      )
    if (refusal)
      lines.push(`cordon: cordon run refuses ${policyLabel(values, positionals[0])} here: ${refusal}`)
    if (lines.length) process.stderr.write(`${lines.join('\n')}\n`)
    return ok ? 0 : 1
  }
  const c = paint(process.stdout)
  const mark = { ok: c.green('✓'), partial: c.yellow('~'), missing: c.red('✗') }
  const lines = [`cordon check — Linux ${facts.kernel} ${facts.arch}`]
  for (const check of checks) {
    lines.push(`  ${mark[check.status]} ${check.title.padEnd(20)} ${check.detail}`)
    if (check.fix) lines.push(`    ${c.dim('fix:')} ${check.fix}`)
  }
  const run = `cordon run${backend === 'native' ? '' : ` --backend ${backend}`}`
  lines.push(
    usable
      ? c.green(`${run} can sandbox this user.`)
      : c.red(`${run} cannot work here until the ✗ above are fixed.`),
  )
  const subject = policyLabel(values, positionals[0])
  const where = backend === 'native' ? 'on this host' : `under --backend ${backend} on this host`
  lines.push('', `statements of ${subject} ${where}:`, ...statementLines(statements, c))
  if (refusal) lines.push('', c.red(`${run} refuses ${subject} here: ${refusal}`))
  if (cwdNote) lines.push('', c.yellow(`${run} refuses to start from this directory: ${cwdNote}`))
  process.stdout.write(`${lines.join('\n')}\n`)
  return ok ? 0 : 1
}

/** A runtime installed is not a runtime that works (Debian's runsc fails `ls /` on some
 * kernels): asked as `cordon advise` asks it. */
async function runtimeCheck(backend: RuntimeBackend): Promise<Check> {
  const { backendAvailable, backendWorks, runtimePath, RUNTIMES } = await import('../../backends/runtime.js')
  const title = RUNTIMES[backend].title
  const available = backendAvailable(backend)
  const works = available.ok ? await backendWorks(backend, policyFromFlags({})) : available
  // What a failed run would ask (backends/works-here.ts): answered now, kept for it.
  if ('ran' in works && works.ran)
    (await import('../../backends/works-here.js')).rememberWorks(backend, works)
  return {
    id: `backend-${backend}`,
    title: `--backend ${backend}`,
    status: works.ok ? 'ok' : 'missing',
    detail: works.ok ? `${title} runs ls / here` : works.why,
    ...(works.ok
      ? {}
      : {
          fix: available.ok
            ? `a newer ${RUNTIMES[backend].program} than this one, or --backend native (every layer) until then`
            : runtimePath(backend)
              ? // Installed, and not this caller's to use (runsc unprivileged): installing is no fix.
                `run it as root, or use --backend native${backend === 'gvisor' ? ' or runc' : ''}`
              : `apt-get install ${RUNTIMES[backend].package}, or use --backend native`,
        }),
    required: true,
  }
}
