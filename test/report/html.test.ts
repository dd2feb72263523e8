// The HTML posture report in a real browser: headless Chromium renders it (screenshot taken),
// logs no console message, and the numbers on the page are the JSON report's.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { cordon, projectDir } from '../helpers.js'

const CHROMIUM = ['chromium', 'chromium-browser'].find(
  (c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0,
)

function chromium(args: string[]) {
  const r = spawnSync(
    CHROMIUM!,
    ['--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr', '--v=0', ...args],
    { encoding: 'utf8', timeout: 60_000 },
  )
  // Chromium logs every console message (and uncaught error) as a CONSOLE line.
  const console = r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l))
  return { status: r.status, stdout: r.stdout, console }
}

test(
  'cordon report --html renders in headless Chromium without console errors',
  // CI installs chromium (.ci/run); a developer machine without it skips.
  { skip: !CHROMIUM && process.env.CI !== 'true' ? 'chromium is not installed' : false, timeout: 120_000 },
  () => {
    assert.ok(CHROMIUM, 'chromium must be installed in CI')
    const dir = projectDir()
    const page = join(dir, 'report.html')
    const r = cordon(['report', '--html', '-o', page, '--memory', '128M'], { cwd: dir })
    assert.equal(r.status, 0, r.stderr)
    const json = JSON.parse(cordon(['report', '--json', '--memory', '128M'], { cwd: dir }).stdout) as {
      syscalls: { blocked: number; total: number }
    }

    const shot = join(dir, 'report.png')
    const rendered = chromium([`--screenshot=${shot}`, '--window-size=1100,1800', `file://${page}`])
    assert.equal(rendered.status, 0)
    assert.deepEqual(rendered.console, [])
    assert.deepEqual([...readFileSync(shot).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG')
    assert.ok(statSync(shot).size > 20_000, 'the screenshot has content')

    const dom = chromium(['--dump-dom', `file://${page}`]).stdout
    assert.match(dom, new RegExp(`<span id="blocked-count">${json.syscalls.blocked}</span>`))
    assert.match(dom, new RegExp(`<span id="total-count">${json.syscalls.total}</span>`))
    assert.equal((dom.match(/class="block"/g) ?? []).length, (dom.match(/class="reach"/g) ?? []).length)

    // The console check itself works: a page that logs is caught.
    const bad = join(dir, 'bad.html')
    writeFileSync(bad, '<!doctype html><script>console.error("boom")</script>')
    assert.equal(chromium(['--dump-dom', `file://${bad}`]).console.length, 1)
  },
)
