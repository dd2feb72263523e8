// The dynamic loader run as a program (`ld.so ./file`) runs a file without an exec of it: the
// exec rules never see the file, so running the loader itself is what the monitor alerts on.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { cordon, isRoot } from '../helpers.js'

const LOADERS = [
  '/lib64/ld-linux-x86-64.so.2',
  '/lib/ld-linux-aarch64.so.1',
  '/lib/ld-linux-riscv64-lp64d.so.1',
]
const loader = LOADERS.find((l) => existsSync(l))

describe('monitor: the dynamic loader run directly', () => {
  const dir = isRoot ? `/srv/cordon-loader-${process.pid}` : `/tmp/cordon-loader-${process.pid}`
  mkdirSync(dir, { recursive: true })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test(
    'running a copied binary through ld.so alerts loader-exec',
    { skip: !loader && 'no known dynamic loader here' },
    () => {
      const r = cordon(
        [
          'run',
          '--monitor',
          '--rw',
          dir,
          '--cwd',
          dir,
          '--',
          'sh',
          '-c',
          `cp /usr/bin/id newid && ${loader} ./newid >/dev/null`,
        ],
        { cwd: dir },
      )
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, /loader-exec.*dynamic loader run directly/, r.stderr)
      assert.ok(realpathSync(loader!).includes('ld-'))
    },
  )
})
