// A posture as text (terminal), Markdown (tickets, audits) or one self-contained HTML page.
import type { Posture } from './posture.js'

const pct = (f: number) => `${(f * 100).toFixed(1)}%`

interface Painter {
  red(s: string): string
  green(s: string): string
  yellow(s: string): string
  dim(s: string): string
  bold(s: string): string
}

export function renderText(p: Posture, c: Painter): string {
  const mark = { active: c.green('✓'), partial: c.yellow('~'), off: c.red('✗') }
  const controlMark = { met: c.green('met    '), partial: c.yellow('partial'), 'not met': c.red('not met') }
  const s = p.syscalls
  const lines = [
    c.bold(`cordon report — ${p.policy} on Linux ${p.host.kernel} ${p.host.arch}`),
    '',
    'layers:',
    ...p.layers.flatMap((l) => [
      `  ${mark[l.status]} ${l.layer.padEnd(16)} ${l.detail}`,
      ...(l.fix ? [`    ${c.dim('fix:')} ${l.fix}`] : []),
    ]),
    '',
    `syscalls: ${s.blocked} of ${s.total} blocked on ${s.arch} (${pct(s.fraction)}), ${s.reachable.length} reachable, ${s.instructions} BPF instructions`,
    ...s.byGroup
      .filter((g) => g.total > 0)
      .map((g) => `  ${g.group.padEnd(16)} ${bar(g.blocked / g.total)} ${g.blocked}/${g.total} blocked`),
    '',
    `capabilities: ${p.capabilities.kept.join(', ') || 'none kept'}`,
    `filesystem: read-only ${list(p.filesystem.readOnly)}`,
    `            read-write ${list(p.filesystem.readWrite)}`,
    `            private ${list(p.filesystem.private)}`,
    `            hidden ${list(p.filesystem.hidden)}`,
    `network: ${p.network.mode}${p.network.tcp ? `; tcp bind ${list(p.network.tcp.bind.map(String))}, connect ${list(p.network.tcp.connect.map(String))}` : ''}`,
    `limits: ${
      Object.entries(p.limits)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
  ]
  if (p.missing.length) {
    lines.push('', 'this host lacks:')
    for (const m of p.missing)
      lines.push(`  ${m.feature}: ${m.detail}`, ...(m.fix ? [`    ${c.dim('fix:')} ${m.fix}`] : []))
  }
  lines.push('', 'controls:')
  for (const ctl of p.controls) {
    lines.push(`  ${controlMark[ctl.status]} ${ctl.control} (${ctl.references.join(', ')})`)
    for (const e of ctl.evidence) lines.push(c.dim(`      ${e}`))
  }
  return `${lines.join('\n')}\n`
}

const list = (xs: readonly string[]) => (xs.length ? xs.join(' ') : '—')

function bar(f: number, width = 20): string {
  const n = Math.round(f * width)
  return `${'█'.repeat(n)}${'░'.repeat(width - n)}`
}

export function renderMarkdown(p: Posture): string {
  const s = p.syscalls
  const row = (cells: string[]) => `| ${cells.map((x) => x.replace(/\|/g, '\\|')).join(' | ')} |`
  const out = [
    `# Sandbox posture: ${p.policy}`,
    '',
    `Host: Linux ${p.host.kernel} (${p.host.arch}), Landlock ABI ${p.host.landlockAbi}, cgroups ${p.host.cgroups}.`,
    '',
    '## Layers',
    '',
    row(['Layer', 'Status', 'Detail']),
    row(['---', '---', '---']),
    ...p.layers.map((l) => row([l.layer, l.status, l.detail + (l.fix ? ` — fix: ${l.fix}` : '')])),
    '',
    '## Syscalls',
    '',
    `${s.blocked} of ${s.total} ${s.arch} syscalls blocked (${pct(s.fraction)}); ${s.instructions} BPF instructions.`,
    '',
    row(['Group', 'Blocked', 'Members']),
    row(['---', '---:', '---:']),
    ...s.byGroup
      .filter((g) => g.total > 0)
      .map((g) => row([`\`${g.group}\``, String(g.blocked), String(g.total)])),
    '',
    '## Reach',
    '',
    `- Capabilities kept: ${p.capabilities.kept.join(', ') || 'none'}`,
    `- Read-only host paths: ${list(p.filesystem.readOnly)}`,
    `- Read-write host paths: ${list(p.filesystem.readWrite)}`,
    `- Hidden: ${list(p.filesystem.hidden)}`,
    `- Network: ${p.network.mode}${p.network.tcp ? ` (tcp bind ${list(p.network.tcp.bind.map(String))}, connect ${list(p.network.tcp.connect.map(String))})` : ''}`,
    `- Limits: ${
      Object.entries(p.limits)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
  ]
  if (p.missing.length)
    out.push(
      '',
      '## Missing on this host',
      '',
      ...p.missing.map((m) => `- **${m.feature}**: ${m.detail}${m.fix ? ` — fix: \`${m.fix}\`` : ''}`),
    )
  out.push(
    '',
    '## Controls',
    '',
    row(['Control', 'NIST 800-53', 'Status', 'Evidence']),
    row(['---', '---', '---', '---']),
  )
  for (const ctl of p.controls)
    out.push(row([ctl.control, ctl.references.join(', '), ctl.status, ctl.evidence.join('<br>')]))
  return `${out.join('\n')}\n`
}

const escape = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  )

/** Horizontal bars, one per group: blocked members in the policy's colour, reachable in grey. */
function coverageChart(p: Posture): string {
  const groups = p.syscalls.byGroup.filter((g) => g.total > 0)
  const rowH = 22
  const labelW = 130
  const barW = 360
  const height = groups.length * rowH + 10
  const rows = groups.map((g, i) => {
    const y = i * rowH + 5
    const w = Math.round((g.blocked / g.total) * barW)
    return [
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${escape(g.group)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${barW}" height="${rowH - 8}" class="reach"/>`,
      `<rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}" class="block"><title>${g.blocked} of ${g.total} blocked</title></rect>`,
      `<text x="${labelW + barW + 8}" y="${y + 15}">${g.blocked}/${g.total}</text>`,
    ].join('')
  })
  return `<svg id="coverage" role="img" aria-label="syscall coverage by group" width="${labelW + barW + 70}" height="${height}" viewBox="0 0 ${labelW + barW + 70} ${height}">${rows.join('')}</svg>`
}

export function renderHtml(p: Posture): string {
  const s = p.syscalls
  const statusClass = (x: string) => x.replace(' ', '-')
  const tr = (cells: string[], cls = '') =>
    `<tr${cls ? ` class="${cls}"` : ''}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cordon report — ${escape(p.policy)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em .6em;border-bottom:1px solid #eee;vertical-align:top}
.active,.met{color:#17672c}.partial{color:#8a6100}.off,.not-met{color:#a4161a}
.big{font-size:2.2em;font-weight:600}
svg text{font:12px system-ui,sans-serif;fill:#333}.reach{fill:#e2e2e2}.block{fill:#2d6a4f}
code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
<h1>Sandbox posture: ${escape(p.policy)}</h1>
<p>Linux ${escape(p.host.kernel)} (${escape(p.host.arch)}) · Landlock ABI ${p.host.landlockAbi} · cgroups ${escape(p.host.cgroups)}</p>
<h2>Layers</h2>
<table>${p.layers.map((l) => tr([escape(l.layer), `<span class="${l.status}">${l.status}</span>`, escape(l.detail) + (l.fix ? `<br><small>fix: <code>${escape(l.fix)}</code></small>` : '')])).join('')}</table>
<h2>Syscalls</h2>
<p><span class="big" id="blocked-fraction">${pct(s.fraction)}</span> of the ${escape(s.arch)} syscall table blocked:
<span id="blocked-count">${s.blocked}</span> of <span id="total-count">${s.total}</span>, by a ${s.instructions}-instruction filter.</p>
${coverageChart(p)}
<h2>Reach</h2>
<table>
${tr(['Capabilities kept', escape(p.capabilities.kept.join(', ') || 'none')])}
${tr(['Read-only host paths', escape(list(p.filesystem.readOnly))])}
${tr(['Read-write host paths', escape(list(p.filesystem.readWrite))])}
${tr(['Hidden', escape(list(p.filesystem.hidden))])}
${tr(['Network', escape(p.network.mode + (p.network.tcp ? ` (tcp bind ${list(p.network.tcp.bind.map(String))}, connect ${list(p.network.tcp.connect.map(String))})` : ''))])}
${tr([
  'Limits',
  escape(
    Object.entries(p.limits)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none',
  ),
])}
</table>
${p.missing.length ? `<h2>Missing on this host</h2><ul>${p.missing.map((m) => `<li><b>${escape(m.feature)}</b>: ${escape(m.detail)}${m.fix ? ` — fix: <code>${escape(m.fix)}</code>` : ''}</li>`).join('')}</ul>` : ''}
<h2>Controls</h2>
<table><tr><th>Control</th><th>NIST 800-53</th><th>Status</th><th>Evidence</th></tr>
${p.controls.map((ctl) => tr([escape(ctl.control), escape(ctl.references.join(', ')), `<span class="${statusClass(ctl.status)}">${ctl.status}</span>`, ctl.evidence.map(escape).join('<br>')])).join('\n')}
</table>
<p><small>Generated by cordon report. Syscall figures are computed from the compiled filter’s rules: a syscall is blocked when no argument value gets it through.</small></p>
</body></html>
`
}
