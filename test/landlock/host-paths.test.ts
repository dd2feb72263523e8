// Without a mount namespace a `landlock.paths` rule is a host path the launcher opens following
// no link (native/landlock.c open_nofollow: a link swapped in since must not redirect it). One
// through a link failed at the start with ELOOP alone (helper-92); the compile now says which
// link, and what to do. Optional rules are skipped at the start, as before.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { landlockRules } from '../../src/plan/landlock.js'
import type { HostFs } from '../../src/plan/view.js'
import { resolvePolicy } from '../../src/index.js'
import { projectDir } from '../helpers.js'

const links: Record<string, string> = { '/lnk': '/real' }
const fs: HostFs = {
  kind: (p) => (p in links ? 'symlink' : 'dir'),
  readlink: (p) => links[p]!,
  list: () => [],
}
const policy = (optional: boolean) =>
  resolvePolicy(
    {
      policy: {
        extends: ['minimal'],
        namespaces: { mount: false },
        landlock: { paths: [{ path: '/lnk/data', access: ['read'], optional }] },
      },
      baseDir: projectDir(),
      label: 'test',
    },
    projectDir(),
  )

test('without a view, a landlock path through a link is refused at compile, naming it', () => {
  assert.throws(
    () => landlockRules(policy(false), fs),
    /landlock\.paths\[0\]\.path \/lnk\/data passes through the symlink \/lnk -> \/real/,
  )
  const optional = landlockRules(policy(true), fs).find((r) => r.path === '/lnk/data')
  assert.equal(optional?.optional, true, 'an optional one is skipped at the start, as before')
  // With a view the path is the view's, resolved there: no refusal here.
  const viewed = { ...policy(false), namespaces: { ...policy(false).namespaces, mount: true } }
  assert.ok(landlockRules(viewed, fs).some((r) => r.path === '/lnk/data'))
})
