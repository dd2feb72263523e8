// cordon learn [options] -o FILE [--] COMMAND [ARG...]
import { callerCwd, fsPath } from '../../host/path-bytes.js'
import { parseFlags } from '../args.js'
import { existsSync, readFileSync } from 'node:fs'
import { outputDirectory, sameDirectory, writeOutput } from '../output-file.js'
import { load as loadYaml } from 'js-yaml'
import { CordonError, fileProblem } from '../../errors.js'
import { generatePolicy } from '../../learn/generate.js'
import { nativeArch, tracedRun, UNREADABLE_WHY } from '../../learn/learn.js'
import { emptyObservation, mergeObservations, type Observation } from '../../learn/observation.js'
import { attackSurface, describeSurface } from '../../learn/surface.js'
import { validatePolicy } from '../../policy/parse.js'
import { resolvePolicy } from '../../policy/resolve.js'
import { describeStepError, isStep } from '../../run/launcher-steps.js'
import type { ExitResult } from '../../run/sandbox-process.js'
import { enforcedSeccomp, holdsHostRoot } from '../../policy/effective.js'
import { resolveSeccomp } from '../../seccomp/resolve.js'
import { note, setQuiet, warn } from '../output.js'
import { tracedOwnInstall } from '../../plan/own-install.js'
import {
  checkFlagSources,
  guardProjectDir,
  POLICY_HELP,
  POLICY_OPTIONS,
  policyFromFlags,
} from '../policy-flags.js'
import { endAsTheCommand, FORWARDED } from '../signals.js'
import { EventOutput } from '../event-output.js'
import { splitCommand } from './run.js'

const OPTIONS = {
  ...POLICY_OPTIONS,
  output: { type: 'string', short: 'o' },
  merge: { type: 'boolean' },
  from: { type: 'string', multiple: true },
  protect: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  events: { type: 'string' },
  'events-fd': { type: 'string' },
  force: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const

const HELP = `Usage: cordon learn [options] -o POLICY.yaml [--] COMMAND [ARG...]
       cordon learn [options] -o POLICY.yaml --from RUN.learn.json...

Runs COMMAND once under a tracer and writes the least-privilege policy that lets exactly that
run: a seccomp allowlist (narrowed on socket families, ioctl requests and prctl options), the
filesystem view and Landlock rules (system files generalize to their directory, e.g. /usr/lib
read-only; nothing that holds a secret is ever granted), TCP ports, and limits with headroom.
The YAML says why each rule exists and how often it was used.

While learning, COMMAND runs in the base policy's namespaces, identity, environment and network,
with its seccomp outcomes, but it sees (and may change) your files as they are: learn with a
trusted input, then enforce with \`cordon run -p POLICY.yaml\`.

The policy records the working directory (read-only unless the run wrote there) and the
command, so \`cordon run -p POLICY.yaml\` in any directory runs the same command the same way.
A run that fails (exits non-zero) writes nothing unless --force: a policy learned from a
failure allows the failure. What was seen is kept next to the policy in POLICY.learn.json.

Learning:
  -o, --output FILE      the policy to write (its observations go to FILE's .learn.json)
      --merge            add this run to FILE's existing observations (other inputs, test suites)
      --from FILE        generate from saved observations instead of a run (repeatable: merged)
      --protect PATH     never grant PATH or a directory holding it (repeatable; adds to the
                         built-in list: /etc/shadow, ~/.ssh, cloud credentials…)
      --force            write the policy even when COMMAND failed (exited non-zero)
      --json             print a summary as JSON ({"version":1,...}): on the events channel when
                         there is one, else on stdout, after what the command wrote there
      --events FILE      the channel: a file of yours (created 0600, truncated), that gets
                         the summary as {"event":"learned","version":1,...}, --json or not
      --events-fd N      the same on descriptor N (3 or more), e.g. --events-fd 3 3>learn.json

Base (what the learned policy builds on; the default profile unless given):
${POLICY_HELP.replace(/^Policy:\n/, '')}

  -q, --quiet            no warnings or progress on stderr (errors and alerts still print);
                         progress shows only when stderr is a terminal, never with --json
  -h, --help             this help

Exit status: the command's; killed by SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGALRM, SIGUSR1 or SIGUSR2,
cordon dies of the same signal once done (a shell sees 128+N), by another signal N it exits
128+N; 125 when cordon failed, bad usage included (any other status could be the command's).
`

const sidecar = (policyFile: string) => policyFile.replace(/\.(ya?ml|json)$/, '') + '.learn.json'

function readObservation(file: string): Observation {
  let data: unknown
  let text: string
  try {
    text = readFileSync(fsPath(file), 'utf8')
  } catch (e) {
    throw new CordonError(
      'invalid_usage',
      `--from ${file}: the file ${fileProblem(e)}; pass a .learn.json written by cordon learn`,
    )
  }
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new CordonError(
      'invalid_usage',
      `--from ${file}: not JSON (${(e as Error).message}); pass a .learn.json written by cordon learn`,
    )
  }
  const o = data as Observation
  if (o?.version !== 1 || typeof o.syscalls !== 'object' || typeof o.files !== 'object')
    throw new CordonError('invalid_usage', `${file} is not a cordon learn observation file (version 1)`)
  return o
}

/** The command every run ran, if they all ran the same one (merged runs of several commands
 * have no single command to record). */
function sameCommand(runs: Observation['runs']): boolean {
  const last = runs.at(-1)?.command
  return last !== undefined && runs.every((r) => r.command.join('\0') === last.join('\0'))
}

export async function learnCommand(argv: string[]): Promise<number> {
  const split = splitCommand(argv, OPTIONS)
  const values = parseFlags(split.flags, OPTIONS)
  setQuiet(values.quiet === true)
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  const output = values.output
  if (!output)
    throw new CordonError('invalid_usage', 'no output file: cordon learn -o POLICY.yaml -- COMMAND')
  const [command, ...args] = split.command
  if (!command && !values.from?.length)
    throw new CordonError(
      'invalid_usage',
      'no command given: cordon learn -o POLICY.yaml -- COMMAND [ARG...] (or --from RUN.learn.json)',
    )
  if (command && values.from?.length)
    throw new CordonError('invalid_usage', 'give either a command or --from, not both')
  if (command) guardProjectDir(values, 'learn')
  // Opened before the run, as run opens it: a bad --events is refused before anything runs.
  const channel =
    values.events !== undefined || values['events-fd'] !== undefined
      ? EventOutput.open({ events: values.events, 'events-fd': values['events-fd'] }, 'cordon learn')
      : undefined
  const base = policyFromFlags(values)
  checkFlagSources(values)
  const saved = sidecar(output)
  // The program may write where the policy goes: where it goes is fixed before it runs.
  const outDir = outputDirectory(output, 'policy.yaml')
  let observation: Observation | undefined
  for (const f of values.from ?? [])
    observation = observation ? mergeObservations(observation, readObservation(f)) : readObservation(f)
  if (values.merge && existsSync(fsPath(saved))) observation = readObservation(saved)

  let code = 0
  if (command) {
    const own = tracedOwnInstall(holdsHostRoot(base))
    if (own) warn(`warning: policy: ${own}`)
    const started = Date.now()
    // Progress only for a person watching: a terminal, and neither --quiet nor --json.
    const tty = process.stderr.isTTY && !values.quiet && !values.json
    let records = 0
    const tick = tty
      ? setInterval(
          () =>
            process.stderr.write(
              `\rcordon: learning… ${((Date.now() - started) / 1000).toFixed(0)} s, ${records} distinct calls`,
            ),
          1000,
        )
      : undefined
    const run = await tracedRun(base, command, args, {
      mode: 'learn',
      forwardSignals: FORWARDED,
      ...(observation ? { into: observation } : {}),
      onEvent: (ev) => {
        if (ev.event === 'syscall') records++
        else if (ev.event === 'error') warn(describeStepError(ev))
        // The launcher could not trace the sandbox: calls may fail with EINTR (learn/trace.ts).
        else if (ev.event === 'warning' && isStep(ev.step, 'seccomp trace'))
          warn(`warning: ${ev.step}: ${ev.message}`)
      },
    })
    if (tick) {
      clearInterval(tick)
      process.stderr.write('\r\u001b[K')
    }
    observation = run.observation
    code = run.result.code
    // Killed by a signal, learn dies of it once done, as run does (a shell loop around it stops
    // at a Ctrl-C only then).
    endAsTheCommand(run.result)
    if (run.result.reason === 'setup') return code
    if (code !== 0 && !values.force) {
      warn(
        `${howItEnded(run.result)}, so no policy was written: a policy learned from a failing ` +
          'run allows the failure, not the work. Fix the run, or pass --force to write it anyway',
      )
      return code
    }
    if (code !== 0) note(`warning: ${howItEnded(run.result)}; the policy covers what this run did`)
    // Calls whose paths were never seen are missing from the policy, which would refuse them.
    if (run.unreadable && !values.force) {
      warn(
        `${run.unreadable} calls could not be read, so no policy was written: ${UNREADABLE_WHY}. ` +
          'Learn as root, or pass --force to write what was seen',
      )
      return 1
    }
    if (run.unreadable)
      note(`warning: ${run.unreadable} calls could not be read (${UNREADABLE_WHY}); the policy lacks them`)
  }
  observation ??= emptyObservation(nativeArch())

  const baseProfile = base.seccomp.findLast((l) => l.profile !== undefined)?.profile ?? 'default'
  const runs = observation.runs
  const generated = generatePolicy(observation, {
    base,
    baseSeccomp: resolveSeccomp(base.seccomp),
    baseProfile,
    cwd: runs.at(-1)?.cwd ?? callerCwd(),
    ...(sameCommand(runs) ? { command: runs.at(-1)!.command } : {}),
    protect: values.protect ?? [],
    header: [
      `Learned by cordon learn from ${runs.length} run${runs.length === 1 ? '' : 's'}:`,
      ...runs.map((r) => `- ${r.command.join(' ')}  (exit ${r.exit}, ${r.durationMs} ms, ${r.at})`),
      `Base: ${base.sources.join(' → ')}. Review before use; observations in ${saved.split('/').pop()}.`,
    ],
  })
  // Read back what we wrote: a learned policy that does not load is a bug, found here.
  const policy = resolvePolicy({
    policy: validatePolicy(loadYaml(generated.yaml)),
    baseDir: callerCwd(),
    label: output,
  })
  const surface = attackSurface(enforcedSeccomp(policy), observation.arch)
  const text = generated.yaml.replace(
    /^version: 1$/m,
    `# Attack surface: ${describeSurface(surface)}.\nversion: 1`,
  )
  sameDirectory(output, outDir)
  // A policy there may hold edits of its author's: say that it went (helper-129 lost one).
  const replaced = !values.merge && existsSync(fsPath(output))
  writeOutput(output, text)
  writeOutput(saved, `${JSON.stringify(observation, null, 1)}\n`)
  const summary = {
    policy: output,
    observations: saved,
    runs: runs.length,
    syscalls: surface.reachable.length,
    blockedFraction: Number(surface.fraction.toFixed(4)),
    files: Object.keys(observation.files).length,
    filesystemEntries: policy.filesystem.length,
    tcp: policy.tcp ?? null,
    withheld: generated.withheld,
    failed: generated.failed,
    narrowed: generated.narrowed,
  }
  // The command's stdout is the caller's too: a last line without a newline glued to the summary,
  // and the command could print one of its own first (helper-113). A channel is cordon's alone.
  if (channel) {
    channel.record({ event: 'learned', version: 1, ...summary })
    await channel.close()
  }
  if (values.json) {
    if (!channel) process.stdout.write(`${JSON.stringify({ version: 1, ...summary })}\n`)
  } else {
    note(
      `learned ${output} from ${runs.length} run(s): ${describeSurface(surface)}; ${summary.filesystemEntries} filesystem entries`,
    )
    if (replaced)
      note(`replaced the policy that was in ${output} (--merge adds a run to its observations instead)`)
    for (const w of generated.withheld) note(`not granted: ${w}`)
    for (const n of generated.narrowed) note(`narrowed: ${n}`)
    for (const f of generated.failed) note(`failed while learning, not granted: ${f}`)
    // helper-152: merging a run of another command dropped `command:` in silence.
    if (runs.length > 1 && !sameCommand(runs)) {
      const commands = [...new Set(runs.map((r) => r.command.join(' ')))]
      note(
        `the runs ran ${commands.length} different commands (${commands.slice(0, 3).join('; ')}${commands.length > 3 ? '; …' : ''}): the policy records none, so give one to run: cordon run -p ${output} -- COMMAND`,
      )
    }
  }
  return code
}

/** How a run that did not succeed ended, in words: a kill is not an exit status. */
function howItEnded(result: ExitResult): string {
  const killedBy = result.signal ? `${result.signal}, exit ${result.code}` : `exit ${result.code}`
  switch (result.reason) {
    case 'timeout':
      return `the command was killed by its timeout (${killedBy})`
    case 'oom':
      return `the command was killed by the memory limit (${killedBy})`
    case 'pids':
      return `the command ran into the pids limit (${killedBy})`
    case 'signal':
      return `the command was killed by ${result.signal ?? 'a signal'} (exit ${result.code})`
    default:
      return `the command exited with ${result.code}`
  }
}
