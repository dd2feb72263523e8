// cordon completion bash|zsh|fish and cordon man: both generated from the commands' own --help
// texts, so neither can drift from what the commands accept.
import { CordonError } from '../../errors.js'
import { parseCommand } from '../args.js'
import { SHELL_NAMES } from '../option-values.js'

/** Each command's name, summary and help text (main.ts passes its table in). */
export interface CommandDoc {
  name: string
  summary: string
  help: string
  /** The values each option takes, where it takes one of a list (option-values.ts). */
  values?: Record<string, readonly string[]>
}

/** The options of this command that take a value from a list, and the list. */
const valuedOptions = (d: CommandDoc) =>
  Object.entries(d.values ?? {}).filter(([o]) => optionsOf(d.help).includes(`--${o}`))

/** The long and short options a help text lists: its option lines (`  -p, --policy FILE`) and
 * Usage lines (`cordon ps [--json]`), not options named in prose. */
export function optionsOf(help: string): string[] {
  const found = new Set<string>()
  const lines = help
    .split('\n')
    .filter((l) => /^\s+-/.test(l) || /^(Usage:)?\s+cordon /.test(l) || l.startsWith('Usage:'))
    // An option line's first column, before the description: `--uid N, --gid N`.
    .map((l) => (/^\s+-/.test(l) ? ` ${l.trim().split(/\s{2,}/)[0]!}` : l))
    .join('\n')
  for (const m of lines.matchAll(/(?:^|[\s[(,|])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?=[\s,=\]|)]|$)/gm))
    found.add(m[1]!)
  return [...found].sort()
}

/** Words a command takes first (`seccomp compile`, `policy diff`): from its Usage lines
 * (`cordon seccomp <compile|disasm|…>`), and for a `<…>` list, the indented lines naming them. */
function subcommandsOf(name: string, help: string): string[] {
  const usage = help.split('\n').filter((l) => /^(Usage:)?\s+cordon /.test(l) || l.startsWith('Usage:'))
  const words: string[] = []
  for (const l of usage) {
    const m = new RegExp(`cordon ${name} (<?)([a-z][a-z|-]*)\\b`).exec(l)
    if (!m) continue
    words.push(...m[2]!.split('|'))
    if (m[1]) for (const i of help.matchAll(/^ {2}([a-z]+) {2,}\S/gm)) words.push(i[1]!)
  }
  return [...new Set(words.filter((w) => w.length > 1))]
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

function bash(docs: CommandDoc[]): string {
  const cases = docs
    .map(
      (d) =>
        `    ${d.name}) words=${sh([...subcommandsOf(d.name, d.help), ...optionsOf(d.help)].join(' '))} ;;`,
    )
    .join('\n')
  const values = docs
    .flatMap((d) =>
      valuedOptions(d).map(
        ([o, v]) =>
          `    '${d.name} --${o}') COMPREPLY=($(compgen -W ${sh(v.join(' '))} -- "$cur")); return ;;`,
      ),
    )
    .join('\n')
  return `# bash completion for cordon (cordon completion bash)
_cordon() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} words i
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${sh(docs.map((d) => d.name).join(' '))} -- "$cur"))
    return
  fi
  # After \`--\` come the sandboxed command and its arguments: complete those as a command line.
  for ((i = 2; i < COMP_CWORD; i++)); do
    if [ "\${COMP_WORDS[i]}" = "--" ]; then
      if [ $((i + 1)) -eq "$COMP_CWORD" ]; then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
      return
    fi
  done
  # An option's value, from the list its parser checks against.
  case "\${COMP_WORDS[1]} $prev" in
${values}
  esac
  case \${COMP_WORDS[1]} in
${cases}
    *) words='' ;;
  esac
  if [[ $cur == -* || $COMP_CWORD -eq 2 && -n $words && $words != -* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
  [ \${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -o filenames -F _cordon cordon
`
}

function zsh(docs: CommandDoc[]): string {
  const described = docs.map((d) => sh(`${d.name}:${d.summary.replace(/:/g, '\\:')}`)).join(' ')
  const cases = docs
    .map(
      (d) => `    ${d.name}) opts=(${[...subcommandsOf(d.name, d.help), ...optionsOf(d.help)].join(' ')}) ;;`,
    )
    .join('\n')
  const values = docs
    .flatMap((d) =>
      valuedOptions(d).map(([o, v]) => `    '${d.name} --${o}') compadd -- ${v.join(' ')}; return ;;`),
    )
    .join('\n')
  // $words is zsh's own array of the command line's words: the options go in opts.
  return `#compdef cordon
# zsh completion for cordon (cordon completion zsh > "\${fpath[1]}/_cordon")
_cordon() {
  local -a commands opts
  commands=(${described})
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  if (( \${words[(I)--]} && \${words[(I)--]} < CURRENT )); then
    _normal
    return
  fi
  case "$words[2] $words[CURRENT-1]" in
${values}
  esac
  case $words[2] in
${cases}
  esac
  if [[ $PREFIX == -* || CURRENT -eq 3 ]]; then compadd -- $opts; fi
  _files
}
_cordon "$@"
`
}

function fish(docs: CommandDoc[]): string {
  const lines = [
    '# fish completion for cordon (cordon completion fish > ~/.config/fish/completions/cordon.fish)',
  ]
  lines.push('complete -c cordon -f')
  for (const d of docs)
    lines.push(`complete -c cordon -n __fish_use_subcommand -a ${d.name} -d ${sh(d.summary)}`)
  for (const d of docs) {
    const when = `'__fish_seen_subcommand_from ${d.name}'`
    for (const sub of subcommandsOf(d.name, d.help)) lines.push(`complete -c cordon -n ${when} -a ${sub}`)
    for (const o of optionsOf(d.help)) {
      const list = d.values?.[o.slice(2)]
      const flag = o.startsWith('--') ? `-l ${o.slice(2)}` : `-s ${o.slice(1)}`
      lines.push(
        list && o.startsWith('--')
          ? `complete -c cordon -n ${when} ${flag} -x -a ${sh(list.join(' '))}`
          : `complete -c cordon -n ${when} ${flag} -F`,
      )
    }
  }
  return `${lines.join('\n')}\n`
}

/** roff text: backslashes and leading dots or quotes escaped, hyphens as minus signs. */
function roff(text: string): string {
  return text
    .split('\n')
    .map((l) =>
      l
        .replace(/\\/g, '\\e')
        .replace(/-/g, '\\-')
        .replace(/^([.'])/, '\\&$1'),
    )
    .join('\n')
}

/** The manual page, cordon(1): the overview, then each command's --help as its own section. */
export function manPage(docs: CommandDoc[], version: string, overview: string, date = new Date()): string {
  const month = date.toISOString().slice(0, 7)
  const out = [
    `.TH CORDON 1 "${month}" "cordon ${version}" "User Commands"`,
    '.SH NAME',
    'cordon \\- run programs under layered Linux isolation',
    '.SH SYNOPSIS',
    '.B cordon',
    '.I command',
    '[options]',
    '.SH DESCRIPTION',
    '.nf',
    roff(overview.trimEnd()),
    '.fi',
    '.SH COMMANDS',
  ]
  for (const d of docs)
    out.push(`.SS ${d.name}`, roff(d.summary), '.PP', '.nf', roff(d.help.trimEnd()), '.fi')
  out.push(
    '.SH EXIT STATUS',
    'run and learn: the command\u2019s status (128+N for signal N; run dies of SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGALRM, SIGUSR1 or SIGUSR2 itself); 125 when cordon failed or was used wrongly;',
    '126 not executable; 127 not found. Other commands: 0, 1 as each says, 2 for bad usage or an invalid policy.',
    '.SH SEE ALSO',
    '.BR cordon\\-exec (1),',
    '.BR bwrap (1),',
    '.BR seccomp (2),',
    '.BR landlock (7)',
  )
  return `${out.join('\n')}\n`
}

/** One generator per shell SHELL_NAMES lists (the type ties the two). */
const SHELLS: Record<(typeof SHELL_NAMES)[number], (docs: CommandDoc[]) => string> = { bash, zsh, fish }

const COMPLETION_HELP = `Usage: cordon completion ${SHELL_NAMES.join('|')}

Prints a completion script for the shell, made from every command's --help: commands, their
subcommands and options, and after \`--\` the sandboxed command line.

  bash:  source <(cordon completion bash)     (or save it in ~/.local/share/bash-completion/completions/cordon)
  zsh:   cordon completion zsh > "\${fpath[1]}/_cordon"
  fish:  cordon completion fish > ~/.config/fish/completions/cordon.fish

  -h, --help   this help
`

const MAN_HELP = `Usage: cordon man [-o FILE]

Prints the manual page cordon(1), made from every command's --help (roff; read it with
\`cordon man | man -l -\`). \`cordon man -o man/cordon.1\` writes the file a package installs.

  -o, --output FILE   write it to FILE instead of stdout
  -h, --help          this help
`

export async function completionCommand(argv: string[], docs: () => Promise<CommandDoc[]>): Promise<number> {
  const parsed = parseCommand(argv, {}, COMPLETION_HELP)
  if (!parsed) return 0
  const shell = parsed.positionals[0]
  if (!shell || !(shell in SHELLS))
    throw new CordonError(
      'invalid_usage',
      `cordon completion takes bash, zsh or fish, got ${shell ? `\`${shell}\`` : 'nothing'}`,
    )
  process.stdout.write(SHELLS[shell as keyof typeof SHELLS](await docs()))
  return 0
}

export async function manCommand(
  argv: string[],
  docs: () => Promise<CommandDoc[]>,
  version: string,
  overview: string,
): Promise<number> {
  const parsed = parseCommand(argv, { output: { type: 'string', short: 'o' } }, MAN_HELP)
  if (!parsed) return 0
  const page = manPage(await docs(), version, overview)
  if (parsed.values.output) {
    const { writeOutput } = await import('../output-file.js')
    writeOutput(parsed.values.output, page)
  } else process.stdout.write(page)
  return 0
}
