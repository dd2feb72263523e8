// The conformance suite's workloads: ordinary programs that every consumer of a cordon policy
// (cordon run, runc, runsc, systemd) must run as cordon itself does, and the table of known
// gaps, each with its reason and fix. One list, used by every file in test/conformance.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export interface Workload {
  name: string
  argv: string[]
  /** What its stdout must contain. */
  expect: RegExp
  /** Programs it needs on the host. */
  needs: string[]
}

/** Scratch files go to a fresh directory under $TMPDIR or /tmp: every consumer gives a private one. */
const scratch = 'd="$(mktemp -d)" && cd "$d"'

export const WORKLOADS: Workload[] = [
  {
    name: 'bash pipeline',
    argv: [
      '/bin/bash',
      '-c',
      'ls / | sort | wc -l | grep -q . && seq 1 100 | awk \'{s+=$1} END {print "sum", s}\'',
    ],
    expect: /^sum 5050$/m,
    needs: ['/bin/bash', '/usr/bin/awk'],
  },
  {
    name: 'python threads',
    argv: [
      '/usr/bin/python3',
      '-c',
      'import threading\nr = []\nts = [threading.Thread(target=r.append, args=(i,)) for i in range(4)]\n' +
        '[t.start() for t in ts]\n[t.join() for t in ts]\nprint("threads", sum(r))',
    ],
    expect: /^threads 6$/m,
    needs: ['/usr/bin/python3'],
  },
  {
    name: 'python multiprocessing pool',
    argv: [
      '/usr/bin/python3',
      '-c',
      'import multiprocessing as m\nif __name__ == "__main__":\n' +
        '    with m.Pool(2) as p:\n        print("pool", sum(p.map(abs, range(-5, 5))))',
    ],
    expect: /^pool 25$/m,
    needs: ['/usr/bin/python3'],
  },
  {
    name: 'node child_process',
    argv: [
      '/usr/bin/node',
      '-e',
      'console.log("node", require("child_process").execFileSync("/bin/echo", ["child"]).toString().trim())',
    ],
    expect: /^node child$/m,
    needs: ['/usr/bin/node'],
  },
  {
    name: 'git',
    argv: [
      '/bin/bash',
      '-c',
      `${scratch} && git init -q && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m made && git log --format=%s`,
    ],
    expect: /^made$/m,
    needs: ['/usr/bin/git'],
  },
  {
    name: 'gcc',
    argv: [
      '/bin/bash',
      '-c',
      // /tmp is noexec in cordon's view (and NoExecPaths= in the unit): compile and link only.
      `${scratch} && printf 'int main(void) { return 0; }\\n' > a.c && gcc -o a a.c && test -s a && echo gcc linked`,
    ],
    expect: /^gcc linked$/m,
    needs: ['/usr/bin/gcc'],
  },
  {
    name: 'tar',
    argv: ['/bin/bash', '-c', `${scratch} && echo data > f && tar -czf t.tgz f && tar -tzf t.tgz`],
    expect: /^f$/m,
    needs: ['/usr/bin/tar', '/bin/gzip'],
  },
  {
    name: 'setarch',
    argv: ['/usr/bin/setarch', 'x86_64', '/bin/echo', 'setarch ran'],
    expect: /^setarch ran$/m,
    needs: ['/usr/bin/setarch'],
  },
  {
    name: 'perl',
    argv: [
      '/usr/bin/perl',
      '-e',
      'my $p = fork; if ($p == 0) { exit 3 } waitpid($p, 0); print "perl ", $? >> 8, "\\n"',
    ],
    expect: /^perl 3$/m,
    needs: ['/usr/bin/perl'],
  },
]

export type Consumer = 'native' | 'runc' | 'runsc' | 'systemd' | 'systemd-learned' | 'docker-loader'

/** A workload that does not pass under a consumer today, why, and what fixes it. */
export interface KnownGap {
  consumer: Consumer
  workload: string
  reason: string
  fix: string
}

const RUNSC_PERSONALITY = {
  reason:
    "Debian's runsc implements personality() itself and refuses it (EINVAL) with or without a seccomp " +
    'profile; the OCI profile allows it (test/export/oci-libseccomp.test.ts)',
  fix: 'a gVisor release that implements personality(PER_LINUX): run natively or under runc meanwhile',
}
export const KNOWN_GAPS: KnownGap[] = [{ consumer: 'runsc', workload: 'setarch', ...RUNSC_PERSONALITY }]

export const knownGap = (consumer: Consumer, workload: string): KnownGap | undefined =>
  KNOWN_GAPS.find((g) => g.consumer === consumer && g.workload === workload)

/** Why this host cannot run the workload, or undefined. */
export function workloadMissing(w: Workload): string | undefined {
  if (process.arch !== 'x64' && w.name === 'setarch') return 'the setarch workload names x86_64'
  const absent = w.needs.filter((p) => !existsSync(p))
  return absent.length ? `not installed here: ${absent.join(', ')}` : undefined
}

/** A missing consumer skips the test with the reason, except under CI=true, where it fails. */
export function skipUnlessCi(why: string | undefined): string | false {
  if (!why) return false
  if (process.env.CI === 'true') throw new Error(`CI=true and the consumer is missing: ${why}`)
  return why
}

export const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

/** Checks one result against the workload; returns the failure, or undefined. */
export function judge(
  w: Workload,
  r: { status: number | null; stdout: string; stderr: string },
): string | undefined {
  if (r.status === 0 && w.expect.test(r.stdout)) return undefined
  return `${w.name}: exit ${r.status}, stdout ${JSON.stringify(r.stdout.slice(-300))}, stderr ${JSON.stringify(r.stderr.slice(-600))}`
}

/** Escape probes (build/native/cordon-probes) every consumer must block, as `cordon verify`'s
 * battery does for cordon's own run. */
export const ESCAPES = [
  'keyctl',
  'bpf',
  'unshare-user',
  'unshare-mount',
  'mount',
  'io-uring',
  'userfaultfd',
  'perf-event',
  'x32-entry',
  'i386-entry',
  'chroot',
  'reboot',
]
