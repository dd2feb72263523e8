// A mask hides a path, not an inode: another hard link to a masked file stays readable. The
// compiler cannot find the other names, so a `mask:` of a file with st_nlink > 1 gets a warning
// in the policy's warning channel, saying so and how to fix it (policy/mask-links.ts).
import assert from 'node:assert/strict'
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { resolvePolicy } from '../../src/policy/resolve.js'
import { cordon, cordonAs, ensureTestUser, isRoot } from '../helpers.js'

// World-readable, so that the plain user's run reads it too.
const dir = mkdtempSync('/tmp/cordon-mask-links-')
chmodSync(dir, 0o755)
after(() => rmSync(dir, { recursive: true, force: true }))
writeFileSync(join(dir, 'two'), 'two\n', { mode: 0o644 })
linkSync(join(dir, 'two'), join(dir, 'two-link'))
writeFileSync(join(dir, 'three'), 'three\n', { mode: 0o644 })
mkdirSync(join(dir, 'elsewhere'), { mode: 0o755 })
linkSync(join(dir, 'three'), join(dir, 'elsewhere', 'x'))
linkSync(join(dir, 'three'), join(dir, 'elsewhere', 'y'))
writeFileSync(join(dir, 'one'), 'one\n', { mode: 0o644 })
mkdirSync(join(dir, 'sub'), { mode: 0o755 })

const warningsFor = (masks: string[]) =>
  (
    resolvePolicy(
      {
        policy: { filesystem: [{ ro: dir }, ...masks.map((m) => ({ mask: join(dir, m) }))] },
        baseDir: dir,
        label: 't',
      },
      dir,
    ).warnings ?? []
  ).filter((w) => w.includes('hides the path'))

describe('a mask of a file with other hard links warns that they stay readable', () => {
  const cases = [
    {
      name: 'a file with one other link',
      masks: ['two'],
      want: [/two` hides the path.*has 1 other hard link, which stays readable/],
    },
    {
      name: 'a file with two other links',
      masks: ['three'],
      want: [/three` hides the path.*has 2 other hard links, which stay readable/],
    },
    { name: 'a file with no other link', masks: ['one'], want: [] },
    { name: 'a directory (its links are its entries)', masks: ['sub'], want: [] },
    { name: 'a missing path', masks: ['none'], want: [] },
    { name: 'one warning per linked file', masks: ['one', 'two', 'three', 'sub'], want: [/two`/, /three`/] },
  ]
  for (const c of cases)
    test(c.name, () => {
      const got = warningsFor(c.masks)
      assert.equal(got.length, c.want.length, got.join('\n'))
      c.want.forEach((re, i) => {
        assert.match(got[i]!, re)
        assert.match(
          got[i]!,
          /mask the directory that holds (it|them), or remove the other links \(`find \/ -xdev -samefile \//,
        )
      })
    })

  const runs: [
    string,
    (args: string[]) => { status: number | null; stdout: string; stderr: string },
    string | false,
  ][] = [
    ['root', (args) => cordon(args, { cwd: dir }), isRoot ? false : 'needs root'],
    [
      'plain user',
      (args) => cordonAs(ensureTestUser(), args, dir),
      isRoot ? false : 'needs root to create the test user',
    ],
  ]
  for (const [who, run, skip] of runs)
    test(
      `cordon run says it before the start, and the other link is indeed readable (${who})`,
      { skip },
      () => {
        const policy = join(dir, `policy-${who.replace(' ', '-')}.yaml`)
        writeFileSync(policy, `extends: [default]\nfilesystem:\n  - ro: ${dir}\n  - mask: ${dir}/two\n`, {
          mode: 0o644,
        })
        const r = run([
          'run',
          '--policy',
          policy,
          '--',
          'sh',
          '-c',
          `cat ${dir}/two 2>/dev/null; cat ${dir}/two-link`,
        ])
        assert.equal(r.status, 0, r.stderr)
        assert.equal(r.stdout, 'two\n', 'the masked path was read, or the link was not')
        assert.match(
          r.stderr,
          new RegExp(`warning: policy: \`mask: ${dir}/two\` hides the path, not the file`),
        )
      },
    )
})
