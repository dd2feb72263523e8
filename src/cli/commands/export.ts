// cordon export --to FORMAT [POLICY] [policy options] [-o DIR] [-- COMMAND]: the policy in the
// ecosystem's formats, with what each cannot express.
import { existsSync } from 'node:fs'
import { basename, dirname, extname, join } from 'node:path'
import { CordonError, suggest } from '../../errors.js'
import { exportPolicy } from '../../export/export.js'
import { type ExportFile, type ExportFormat, FORMATS, shellQuote, writeExport } from '../../export/model.js'
import { callerContext } from '../../host/caller.js'
import { note, QUIET_OPTION } from '../output.js'
import { checkOutputDirectory } from '../output-file.js'
import { EXPORT_ARCHES } from '../option-values.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from '../policy-flags.js'
import { parseCommand } from '../args.js'
import { callerResolve, fsPath } from '../../host/path-bytes.js'

const HELP = `Usage: cordon export --to FORMAT [POLICY] [policy options] [-o DIR] [-- COMMAND [ARG...]]

Writes the policy in another system's terms, and lists on stderr every statement that system
cannot express (with what to do instead) — nothing is dropped silently.

Formats:
  oci-seccomp   runtime-spec seccomp JSON: docker --security-opt seccomp=, containerd, Kubernetes
                Localhost profiles
  docker        a \`docker run\` script (cap-drop, read-only, tmpfs, volumes, network, pids,
                memory, cpus, ulimits, no-new-privileges) and the seccomp profile it names
  kubernetes    Pod (securityContext, resources), NetworkPolicy, the Security Profiles Operator's
                SeccompProfile, and the profile file for nodes without the operator
  systemd       a service unit in systemd's own sandboxing options (ProtectSystem=strict,
                TemporaryFileSystem=, SystemCallFilter=, PrivateNetwork=, MemoryMax=, …)
  oci-bundle    config.json + rootfs/ for runc, crun and runsc (gVisor)

${POLICY_HELP}

      --to FORMAT    one of ${FORMATS.join(', ')}
  -o, --output DIR   write the files there (needed when a format has more than one)
      --name NAME    unit, pod and file names (default: the policy file's name, or "sandbox")
      --image IMAGE  container image for docker and kubernetes (default: debian:bookworm-slim)
      --wrap         systemd, kubernetes: start the command through cordon-exec with the compiled
                     plan, so every cordon layer (Landlock too) applies
      --arch ARCH    seccomp profile for ${EXPORT_ARCHES.join(', ')} (default: this host)
      --json         {"version":1,"format","files":[{path,kind}],"gaps":[{statement,why}],"usage":[...]}
  -q, --quiet        no notes on stderr (what was written, gaps, how to use it)
  -h, --help         this help

COMMAND defaults to the policy's \`command\` (oci-seccomp needs none). Exit status 0; the gaps are information.
`

export async function exportCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    argv,
    {
      ...POLICY_OPTIONS,
      to: { type: 'string' },
      output: { type: 'string', short: 'o' },
      name: { type: 'string' },
      image: { type: 'string' },
      wrap: { type: 'boolean' },
      arch: { type: 'string' },
      json: { type: 'boolean' },
      ...QUIET_OPTION,
    },
    HELP,
  )
  if (!parsed) return 0
  const { values, positionals } = parsed
  const format = values.to as ExportFormat | undefined
  if (!format || !FORMATS.includes(format))
    throw new CordonError(
      'invalid_usage',
      `--to must be one of ${FORMATS.join(', ')}${values.to ? `, got \`${values.to}\`${nearFormat(values.to)}` : ''}`,
    )
  if (values.wrap && format !== 'systemd' && format !== 'kubernetes')
    throw new CordonError('invalid_usage', '--wrap applies to --to systemd and --to kubernetes')
  const arch = values.arch ?? process.arch
  if (!(EXPORT_ARCHES as readonly string[]).includes(arch))
    throw new CordonError('invalid_usage', `--arch must be ${EXPORT_ARCHES.join(', ')}, got \`${arch}\``)
  const dash = argv.indexOf('--')
  // parseArgs puts what follows `--` among the positionals too.
  const before = dash >= 0 ? positionals.length - (argv.length - dash - 1) : positionals.length
  const file = before > 0 ? positionals[0] : undefined
  const command = dash >= 0 ? argv.slice(dash + 1) : []
  const policy = policyFromFlags(values, file)
  const cmd = command.length ? command : (policy.command ?? [])
  // A seccomp profile names no command; every other format starts one.
  if (!cmd.length && format !== 'oci-seccomp')
    throw new CordonError('invalid_usage', 'no command: give one after `--`, or set `command` in the policy')
  const source = values.policy ?? file
  const name = values.name ?? (source ? basename(source, extname(source)) : 'sandbox')
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name))
    throw new CordonError('invalid_usage', `--name must be letters, digits, ".", "_" or "-", got \`${name}\``)
  const caller = callerContext()
  const out = exportPolicy(policy, format, {
    name,
    command: cmd,
    arch,
    image: values.image ?? 'debian:bookworm-slim',
    uid: caller.uid,
    gid: caller.gid,
    cwd: caller.cwd,
    wrap: values.wrap === true,
  })
  const written = out.files.filter((f) => f.kind === 'file')
  if (values.output) {
    // The output directory is made if missing, but not its parents: a typo in -o should fail
    // here rather than scatter directories.
    const parent = dirname(callerResolve(values.output))
    if (!existsSync(fsPath(parent)))
      throw new CordonError(
        'invalid_usage',
        `-o ${values.output}: ${parent} does not exist; cordon makes the output directory, not its parents: create it first`,
      )
    checkOutputDirectory(values.output)
    writeExport(values.output, out.files)
  } else if (written.length > 1 || out.files.length > written.length)
    throw new CordonError(
      'invalid_usage',
      `--to ${format} writes ${out.files.map((f) => f.path).join(', ')}: give an output directory with -o DIR`,
    )
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ version: 1, format, files: out.files.map((f) => ({ path: f.path, kind: f.kind })), gaps: out.gaps, usage: out.usage }, null, 2)}\n`,
    )
    return 0
  }
  if (!values.output)
    process.stdout.write(String((written[0] as Extract<ExportFile, { kind: 'file' }>).content))
  else note(`export: wrote ${out.files.map((f) => join(values.output!, f.path)).join(', ')}`)
  for (const g of out.gaps) note(`export: not expressed: ${g.statement}: ${g.why}`)
  // The usage lines name the files by their own names, run from the output directory; a line
  // that says DIR names that directory itself (a script run from the project, a bundle).
  if (values.output)
    for (const u of out.usage)
      note(
        /\bDIR\b/.test(u)
          ? `export: use: ${u.replace(/\bDIR\b/g, () => shellQuote(values.output!))}`
          : `export: use (in ${values.output}): ${u}`,
      )
  return 0
}

/** ` (did you mean …?)` for a mistyped --to, or nothing. */
function nearFormat(to: string): string {
  const near = FORMAT_WORDS[to.toLowerCase()] ?? suggest(to, FORMATS)
  return near ? ` (did you mean \`${near}\`?)` : ''
}

/** What users call a format by the tool that reads it. */
const FORMAT_WORDS: Readonly<Record<string, ExportFormat>> = {
  runc: 'oci-bundle',
  runsc: 'oci-bundle',
  gvisor: 'oci-bundle',
  crun: 'oci-bundle',
  oci: 'oci-bundle',
  bundle: 'oci-bundle',
  k8s: 'kubernetes',
  kube: 'kubernetes',
  pod: 'kubernetes',
  seccomp: 'oci-seccomp',
  unit: 'systemd',
  service: 'systemd',
  podman: 'docker',
}
