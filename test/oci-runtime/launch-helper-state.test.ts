// cordon-oci create's launch helper (native/oci-launch.c) starts the launcher as Node's
// spawnSync did. The container's process gets no ignored or blocked signal from the engine that
// started the runtime (a shell's `trap ''`, `nohup`), and, with no RLIMIT_NOFILE in its config,
// Node's raised open files limit rather than the engine's soft one: as under runc and the Node
// half. And a create with hooks, whose launcher Node starts itself (it lets the helper go
// first), still gets its sysctls: Docker's every container (a libnetwork prestart hook, two
// net.ipv4 sysctls).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { ROOT } from '../helpers.js'
import { CORDON_OCI, makeBundle, oci, ociSkip, waitUntil } from './bundle.js'

const NODE_HALF = join(ROOT, 'bin', 'cordon-oci.cjs')
const PERL = ['/usr/bin/perl', '/bin/perl'].find((p) => existsSync(p))

/** Ignores SIGHUP, SIGINT and SIGTERM and blocks SIGUSR2, then execs the rest. */
const ENGINE = [
  '-MPOSIX',
  '-e',
  '$SIG{$_} = "IGNORE" for qw(HUP INT TERM); sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR2)); exec @ARGV or die',
]
const WAYS = [
  { name: 'the C entry (its launch helper)', runtime: CORDON_OCI },
  { name: 'the Node half', runtime: NODE_HALF },
]
const bit = (mask: string, sig: number) => (BigInt(`0x${mask}`) >> BigInt(sig - 1)) & 1n

describe(
  'cordon-oci create: the container signal state',
  { skip: ociSkip() || (!PERL && 'needs perl') },
  () => {
    for (const way of WAYS) {
      test(`no signal ignored or blocked by the engine reaches the container, through ${way.name}`, (t) => {
        const b = makeBundle(['sh', '-c', 'grep -E "^Sig(Blk|Ign)" /proc/self/status > /tmp/out'])
        t.after(() => b.cleanup())
        const id = `sigstate-${process.pid}`
        const r = spawnSync(
          PERL!,
          [...ENGINE, way.runtime, '--root', b.root, 'create', '--bundle', b.dir, id],
          {
            stdio: 'ignore',
            timeout: 60_000,
            env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
          },
        )
        assert.equal(r.status, 0)
        assert.equal(oci(b, ['start', id]).status, 0)
        const out = join(b.dir, 'rootfs', 'tmp', 'out')
        waitUntil(() => existsSync(out) && readFileSync(out, 'utf8').includes('SigIgn'), 500)
        const status = readFileSync(out, 'utf8')
        const ignored = /SigIgn:\s*([0-9a-f]+)/.exec(status)![1]!
        const blocked = /SigBlk:\s*([0-9a-f]+)/.exec(status)![1]!
        for (const [name, sig] of [
          ['SIGHUP', 1],
          ['SIGINT', 2],
          ['SIGTERM', 15],
        ] as const)
          assert.equal(bit(ignored, sig), 0n, `${name} ignored in the container (SigIgn ${ignored})`)
        assert.equal(bit(blocked, 12), 0n, `SIGUSR2 blocked in the container (SigBlk ${blocked})`)
      })
    }
  },
)

describe('cordon-oci create: hooks and sysctls together', { skip: ociSkip() }, () => {
  for (const way of WAYS) {
    test(`a prestart hook and a net sysctl, through ${way.name}`, (t) => {
      const b = makeBundle(['sh', '-c', 'cat /proc/sys/net/ipv4/ping_group_range > /tmp/out'])
      t.after(() => b.cleanup())
      b.write((c) => {
        // It reads its state: one that does not may fail on EPIPE (fixed on oci7).
        c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/null'] }] }
        c.linux!.sysctl = { 'net.ipv4.ping_group_range': '0 4321' }
      })
      const id = `hooksysctl-${process.pid}`
      const r = oci(b, ['create', '--bundle', b.dir, id], way.runtime)
      assert.equal(r.status, 0, r.stderr)
      assert.equal(oci(b, ['start', id]).status, 0)
      const out = join(b.dir, 'rootfs', 'tmp', 'out')
      waitUntil(() => existsSync(out) && readFileSync(out, 'utf8') !== '', 500)
      assert.equal(readFileSync(out, 'utf8'), '0\t4321\n')
    })
  }
})

describe('cordon-oci create: the container open files limit', { skip: ociSkip() }, () => {
  for (const way of WAYS) {
    test(`a config without RLIMIT_NOFILE gets the hard limit as its soft one, through ${way.name}`, (t) => {
      const b = makeBundle(['sh', '-c', 'grep "open files" /proc/self/limits > /tmp/out'])
      t.after(() => b.cleanup())
      b.write((c) => {
        delete c.process!.rlimits
      })
      const id = `nofile-${process.pid}`
      const r = spawnSync(
        '/bin/sh',
        [
          '-c',
          'ulimit -Sn 1000 && exec "$@"',
          'sh',
          way.runtime,
          '--root',
          b.root,
          'create',
          '--bundle',
          b.dir,
          id,
        ],
        { stdio: 'ignore', timeout: 60_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: '' } },
      )
      assert.equal(r.status, 0)
      assert.equal(oci(b, ['start', id]).status, 0)
      const out = join(b.dir, 'rootfs', 'tmp', 'out')
      waitUntil(() => existsSync(out) && readFileSync(out, 'utf8').includes('files'), 500)
      const [soft, hard] = /open files\s+(\S+)\s+(\S+)/.exec(readFileSync(out, 'utf8'))!.slice(1)
      assert.equal(soft, hard, "the engine's soft limit reached the container")
    })
  }
})
