// The read-home probe lists the host's home from inside the sandbox. A project below the home
// (~/src/app, the usual place) makes the view create ~/src on its way there: that name is the
// policy's, and must not count as the host's home leaking (a newcomer's `cordon verify` failed
// with a false "NOT BLOCKED" for it), while any other entry still does.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { cordon, ROOT } from '../helpers.js'

const home = `/tmp/cordon-home-${process.pid}`
const project = join(home, 'src', 'app')
mkdirSync(project, { recursive: true })
writeFileSync(join(home, 'secret'), 'host file\n')
for (const d of [home, join(home, 'src'), project]) chmodSync(d, 0o755)
after(() => rmSync(home, { recursive: true, force: true }))
const probes = join(ROOT, 'build', 'native', 'cordon-probes')

test('the probe counts every entry the view did not make', () => {
  const run = (arg: string) =>
    JSON.parse(spawnSync(probes, [`read-home=${arg}`], { encoding: 'utf8' }).stdout.trim()) as {
      outcome: string
    }
  // Outside any sandbox the host's home is there to see: `secret` is not the view's.
  assert.equal(run(`${home}//src`).outcome, 'escaped')
  assert.equal(run(`${home}//src/secret`).outcome, 'blocked')
})

test('a project below the home passes read-home: the view shows only the way to it', () => {
  const r = cordon(['verify', '--probe', 'read-home', '--json'], { cwd: project, env: { HOME: home } })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  const out = JSON.parse(r.stdout) as { results: { probe: string; outcome: string; target?: string }[] }
  assert.deepEqual(
    out.results.map((x) => [x.probe, x.outcome]),
    [['read-home', 'blocked']],
  )
})
