// Issue 19: `cat café.txt` and a file named with bytes that are not UTF-8 round-trip through
// learn and the learned policy. The launcher reports such a byte as a lone surrogate
// (host/path-bytes.ts); learn's host-side look at the file (lstat, readlink) used the string,
// which Node writes as U+FFFD, so the file seemed missing and was never granted: the learned
// policy then broke the workload.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { cordon, isRoot, projectDir } from '../helpers.js'

describe(
  'learn: names that are not ASCII',
  { skip: !isRoot && 'needs root (a directory outside /tmp)' },
  () => {
    test('café.txt and a\\xffb.txt are learned, granted and read enforced', (t) => {
      // Outside /tmp (private in the default profile) and the working directory (granted whole),
      // so that each file gets a grant of its own.
      const dir = `/opt/cordon-non-utf8-${process.pid}`
      mkdirSync(dir, { recursive: true, mode: 0o755 })
      chmodSync(dir, 0o755)
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      writeFileSync(join(dir, 'café.txt'), 'café\n')
      writeFileSync(Buffer.from(`${dir}/a\xffb.txt`, 'latin1'), 'raw\n')
      const script = `cat ${dir}/café.txt "${dir}/$(printf 'a\\377b.txt')"`
      const out = join(projectDir(), 'non-utf8.yaml')
      const learned = cordon(['learn', '-o', out, '--', 'sh', '-c', script], { timeout: 60_000 })
      assert.equal(learned.status, 0, learned.stderr)
      assert.equal(learned.stdout, 'café\nraw\n')
      const yaml = readFileSync(out, 'utf8')
      assert.match(yaml, /- ro: "\/opt\/cordon-non-utf8-\d+\/café\.txt"/)
      // The policy names the byte by its escape; people see it as \xff.
      assert.match(yaml, /- ro: "\/opt\/cordon-non-utf8-\d+\/a\\udcffb\.txt" {2}# read [^\n]*a\\xffb\.txt/)
      assert.doesNotMatch(yaml, /\ufffd/)
      const enforced = cordon(['run', '-p', out], { timeout: 60_000 })
      assert.equal(enforced.status, 0, enforced.stderr)
      assert.equal(enforced.stdout, 'café\nraw\n')
    })
  },
)
