// Without a mount namespace a Landlock rule is opened on the host as the sandbox's ids: root's
// sandboxes run as an unprivileged id range, which a 0700 directory on the way shuts out. A
// newcomer's project under /root got a bare `permission denied (EACCES)`; the error now says why
// and what to do, as the namespaced path does for its working directory.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { probeKernel } from '../../src/host/probe.js'
import { cordon, isRoot } from '../helpers.js'

test(
  'a project behind a 0700 directory, without namespaces: the error names the cause and the fix',
  {
    skip:
      (!isRoot && 'root: the id range is what a 0700 directory shuts out') ||
      (probeKernel().landlock.abi < 1 && 'no Landlock here'),
  },
  (t) => {
    const top = mkdtempSync(join(tmpdir(), 'cordon-shut-'))
    t.after(() => rmSync(top, { recursive: true, force: true }))
    chmodSync(top, 0o700) // as /root is
    const project = join(top, 'project')
    mkdirSync(project, { mode: 0o755 })
    const r = cordon(['run', '-q', '--no-namespaces', '--acknowledge', 'no-view', '--', 'true'], {
      cwd: project,
    })
    assert.equal(r.status, 125, r.stderr)
    assert.match(r.stderr, /landlock rule .* failed: the sandbox's user may not reach this path/)
    assert.match(r.stderr, /`chmod a\+rX` the directories on its way/)
  },
)
