// cordon seccomp compile|disasm|explain|test|groups: look inside the syscall filter.
import { existsSync, readFileSync } from 'node:fs'
import { writeOutput } from '../output-file.js'
import { parseStrict } from '../args.js'
import { note, QUIET_HELP, QUIET_OPTION } from '../output.js'
import { dump as dumpYaml } from 'js-yaml'
import { CordonError, fileProblem } from '../../errors.js'
import {
  archByName,
  describeHostArches,
  entryPoints,
  HOST_ARCH_NAMES,
  hostArchOf,
  knownSyscallNames,
  syscallName,
} from '../../seccomp/arch.js'
import { decode, describeReturn, interpret } from '../../seccomp/bpf.js'
import { compileSeccomp, leafFor } from '../../seccomp/compile.js'
import { disassemble } from '../../seccomp/disasm.js'
import { GROUPS } from '../../seccomp/groups.js'
import { actionKey } from '../../seccomp/model.js'
import { exportOci, importOci, parseOci, stringifyOci } from '../../seccomp/oci.js'
import { enforcedSeccomp, exportedSeccomp } from '../../policy/effective.js'
import { resolveSeccomp } from '../../seccomp/resolve.js'
import { importSystemd, systemdGroups } from '../../seccomp/systemd.js'
import { POLICY_HELP, POLICY_OPTIONS, policyFromFlags } from '../policy-flags.js'
import { callerResolve, fsPath } from '../../host/path-bytes.js'

const HELP = `Usage: cordon seccomp <compile|disasm|explain|test|export|import|groups> [POLICY] [options]

  compile   compile the policy's filter; print statistics (-o FILE writes the raw BPF)
  disasm    the BPF program, with syscall names
  explain   what each syscall gets, and which rule decides it
  test      run the program in the interpreter on one call: --syscall NAME|NR [--arg N...] [--arch A]
  export    the filter as OCI runtime-spec JSON (Docker --security-opt seccomp=, containerd,
            Kubernetes Localhost profiles); what OCI cannot express is listed on stderr
  import    FILE: an OCI/Docker profile as a cordon policy (YAML) for this host's arch, kernel
            and --caps (cordon keeps no capabilities unless the policy says so);
            --from systemd: a unit file's SystemCallFilter=/SystemCallErrorNumber= (or bare
            filter values, one per line; - reads stdin), with systemd's semantics and groups
  groups    the syscall groups, their members and why they exist

${POLICY_HELP}

      --arch A           host arch to build for: ${describeHostArches()} (default: this host)
      --syscall NAME|NR  (test) the call
      --entry i386       (test) the compat entry point (int 0x80) on x64
      --arg N            (test) arguments in order, decimal or 0x; repeatable
  -o, --output FILE      (compile) write the BPF program
      --caps LIST        (import) capabilities the sandbox keeps, comma-separated
      --from FORMAT      (import) oci (default) or systemd
      --json             machine-readable output
${QUIET_HELP}
  -h, --help             this help
`

export async function seccompCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseStrict({
    args: argv,
    options: {
      ...POLICY_OPTIONS,
      arch: { type: 'string' },
      entry: { type: 'string' },
      syscall: { type: 'string' },
      arg: { type: 'string', multiple: true },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
      caps: { type: 'string' },
      from: { type: 'string' },
      ...QUIET_OPTION,
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  })
  const [sub, policyFile] = positionals
  if (values.help || !sub) {
    process.stdout.write(HELP)
    return values.help ? 0 : 2
  }
  if (sub === 'groups') return groups(values.json === true)
  if (sub === 'import') {
    if (values.from === 'systemd') return importSystemdCommand(policyFile, values.output)
    if (values.from !== undefined && values.from !== 'oci')
      throw new CordonError('invalid_usage', `--from must be oci or systemd, got \`${values.from}\``)
    return importCommand(policyFile, values.caps, values.output)
  }
  if (!['compile', 'disasm', 'explain', 'test', 'export'].includes(sub))
    throw new CordonError('invalid_usage', `unknown subcommand \`${sub}\`; see cordon seccomp --help`)
  const nodeArch = hostArchOf(values.arch ?? process.arch)
  if (!nodeArch)
    throw new CordonError(
      'invalid_usage',
      `--arch must be ${HOST_ARCH_NAMES.join(', ')}, got \`${values.arch}\``,
    )
  if (policyFile && !existsSync(fsPath(callerResolve(policyFile))) && knownSyscallNames().has(policyFile))
    throw new CordonError(
      'invalid_usage',
      `\`${policyFile}\` is a syscall, not a policy file: \`cordon seccomp test --syscall ${policyFile}\` runs the filter on it (\`explain\` lists every syscall)`,
    )
  const policy = policyFromFlags(values, policyFile)
  // What `cordon run` installs: the policy's layers plus what its tcp section adds.
  const spec = enforcedSeccomp(policy)
  const arches = entryPoints(nodeArch)
  const filter = compileSeccomp(spec, arches, { stats: true })
  const prog = decode(filter.program)
  const out = (s: string) => process.stdout.write(`${s}\n`)

  if (sub === 'export') {
    // For a runtime, whose pid 1 is the program: without the guard of cordon's own init.
    const { profile, warnings } = exportOci(exportedSeccomp(policy), nodeArch)
    const text = `${stringifyOci(profile)}\n`
    if (values.output) writeOutput(values.output, text)
    else process.stdout.write(text)
    for (const w of warnings) note(`export: ${w}`)
    return 0
  }
  if (sub === 'compile') {
    if (values.output) writeOutput(values.output, filter.program)
    if (values.json) out(JSON.stringify({ version: 1, ...filter, program: undefined }, null, 2))
    else {
      out(
        `${filter.instructions} instructions (${filter.instructionsBeforeOptimization} before optimization)`,
      )
      for (const s of filter.perArch)
        out(
          `  ${s.arch.padEnd(8)} path: average ${s.averagePath}, worst ${s.worstPath} instructions; comparisons per call ${s.weightedCost}`,
        )
    }
    return 0
  }
  if (sub === 'disasm') {
    out(disassemble(prog).join('\n'))
    return 0
  }
  if (sub === 'explain') {
    const arch = arches[0]!
    const rows = Object.entries(arch.table)
      .sort((a, b) => a[1] - b[1])
      .map(([name, nr]) => {
        const leaf = leafFor(spec, name)
        const rule = spec.rules.findLast((r) => r.syscalls.includes(name) && r.args.length === 0)
        return {
          name,
          nr,
          action: actionKey(leaf.fallback),
          conditional: leaf.checks.map((c) => actionKey(c.action)),
          by: rule?.origin ?? 'default action',
        }
      })
    if (values.json)
      out(
        JSON.stringify(
          { version: 1, arch: arch.name, default: actionKey(spec.defaultAction), syscalls: rows },
          null,
          2,
        ),
      )
    else
      for (const r of rows)
        out(
          `${String(r.nr).padStart(4)} ${r.name.padEnd(24)} ${r.action.padEnd(14)} ${r.conditional.length ? `(with argument checks: ${r.conditional.join(', ')}) ` : ''}${r.by}`,
        )
    return 0
  }
  // test
  if (!values.syscall) throw new CordonError('invalid_usage', 'test needs --syscall NAME or number')
  const arch = values.entry ? archByName(values.entry) : arches[0]
  if (!arch || !arches.includes(arch))
    throw new CordonError('invalid_usage', `--entry must be one of ${arches.map((a) => a.name).join(', ')}`)
  const nr = /^\d+$/.test(values.syscall) ? Number(values.syscall) : arch.table[values.syscall]
  if (nr === undefined)
    throw new CordonError('invalid_usage', `${arch.name} has no syscall \`${values.syscall}\``)
  let args: bigint[]
  try {
    args = (values.arg ?? []).map((a) => BigInt.asUintN(64, BigInt(a)))
  } catch {
    throw new CordonError('invalid_usage', '--arg takes integers, decimal or 0x…')
  }
  const verdict = interpret(prog, { nr, arch: arch.audit, args })
  const lines = disassemble(prog)
  if (values.json)
    out(
      JSON.stringify(
        {
          version: 1,
          arch: arch.name,
          nr,
          name: syscallName(arch, nr) ?? null,
          verdict: describeReturn(verdict.value),
          path: verdict.path,
        },
        null,
        2,
      ),
    )
  else {
    out(
      `${arch.name} ${syscallName(arch, nr) ?? '?'} (${nr}) → ${describeReturn(verdict.value)} after ${verdict.path.length} instructions`,
    )
    for (const pc of verdict.path) out(`  ${lines[pc]}`)
  }
  return 0
}

function importCommand(
  file: string | undefined,
  caps: string | undefined,
  output: string | undefined,
): number {
  if (!file)
    throw new CordonError('invalid_usage', 'import needs the OCI profile: cordon seccomp import FILE')
  let text: string
  try {
    text = readFileSync(fsPath(file), 'utf8')
  } catch (cause) {
    throw new CordonError(
      'not_found',
      `import: the OCI profile ${file} ${fileProblem(cause)}; give a Docker/OCI seccomp profile (JSON)`,
    )
  }
  let profile
  try {
    profile = parseOci(text)
  } catch (cause) {
    throw new CordonError('invalid_policy', `${file} is not JSON: ${(cause as Error).message}`)
  }
  const { layer, skipped } = importOci(profile, { ...(caps ? { caps: caps.split(',') } : {}), origin: file })
  resolveSeccomp([layer]) // validate before printing
  const yaml = dumpYaml(
    { seccomp: { profile: layer.profile, default: layer.default, rules: layer.rules } },
    { lineWidth: 120, flowLevel: 3 },
  )
  const text2 = `# Imported from ${file} by cordon seccomp import\n${yaml}`
  if (output) writeOutput(output, text2)
  else process.stdout.write(text2)
  if (skipped.rules) note(`import: ${skipped.rules} rule(s) skipped (other arch, capability or kernel)`)
  if (skipped.names.length)
    note(`import: names unknown to cordon's tables skipped: ${skipped.names.join(' ')}`)
  return 0
}

function importSystemdCommand(file: string | undefined, output: string | undefined): number {
  if (!file)
    throw new CordonError(
      'invalid_usage',
      'import --from systemd needs the unit: cordon seccomp import --from systemd UNIT (or - for stdin)',
    )
  let text: string
  try {
    text = readFileSync(file === '-' ? 0 : fsPath(file), 'utf8')
  } catch (cause) {
    throw new CordonError(
      'not_found',
      `import --from systemd: the unit ${file} ${fileProblem(cause)}; give a unit file, or - for stdin`,
    )
  }
  let imported
  try {
    imported = importSystemd(text, systemdGroups(), file === '-' ? 'stdin' : file)
  } catch (cause) {
    throw new CordonError('invalid_policy', `${file}: ${(cause as Error).message}`)
  }
  const { layer, unknown, notes } = imported
  resolveSeccomp([layer]) // validate before printing
  const yaml = dumpYaml(
    { seccomp: { profile: layer.profile, default: layer.default, rules: layer.rules } },
    { lineWidth: 120, flowLevel: 3 },
  )
  const out = `# Imported from ${file === '-' ? 'stdin' : file} by cordon seccomp import --from systemd\n${yaml}`
  if (output) writeOutput(output, out)
  else process.stdout.write(out)
  for (const n of notes) note(`import: ${n}`)
  if (unknown.length) note(`import: names unknown to cordon's tables skipped: ${unknown.join(' ')}`)
  return 0
}

function groups(json: boolean): number {
  if (json) {
    process.stdout.write(`${JSON.stringify({ version: 1, groups: GROUPS }, null, 2)}\n`)
    return 0
  }
  for (const [name, g] of Object.entries(GROUPS))
    process.stdout.write(`${name}\n  ${g.why}\n  ${g.members.join(' ')}\n\n`)
  return 0
}
