// Battery rows: the host's files, kernel interfaces reached through binds, and exec from
// writable places.
import { existsSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { under } from '../../learn/paths.js'
import type { ResolvedPolicy } from '../../policy/resolve.js'
import { latestAtEachPlace } from '../../policy/view-paths.js'
import { devTarget, placeSuidFixture } from '../fixtures.js'
import {
  type ProbeSpec,
  OPEN_CALLS,
  EXEC_CALLS,
  CREATE_CALLS,
  WRITE_EXEC_CALLS,
  O_CREAT_EXCL,
  O_OPENDIR,
  O_READ,
  O_WRITE,
  openat,
} from '../probe-spec.js'

/** Why the policy lets a probe of root's kernel mount through: it binds it writable itself. A
 * writable bind the policy names at or below a kernel interface (`rw: /sys/fs/cgroup/x`) is
 * asked for, so not promised; a wider one (`rw: /`) does not count: the view keeps them from it. */
const boundWritable = (p: ResolvedPolicy, root: string): string | undefined => {
  const named = p.filesystem.find((e) => e.kind === 'bind' && !e.readOnly && under(e.src, root))?.dest
  return named ? `the policy binds ${named} writable` : undefined
}

/** Why a program written to /tmp may run by the policy's own word: the view's /tmp is a tmpfs
 * that allows exec (`tmpfs: { dest: /tmp, exec: true }`, a flag's `--tmpfs /tmp`), or a
 * writable bind whose rights include execute. The innermost entry at or above /tmp decides. */
const execInTmp = (p: ResolvedPolicy, ctx: { backend: string }): string | undefined => {
  // Landlock alone refuses the execve, not the mapping ld.so makes (plan/view.ts noexecWhere).
  if (!p.namespaces.mount && ctx.backend === 'native')
    return 'no mount namespace, so no noexec mount: Landlock asks for execute at execve only, and ld.so runs a program written to $TMPDIR by mapping it'
  // gVisor's kernel checks noexec at execve only (backends/status.ts GVISOR_NOEXEC).
  if (ctx.backend === 'gvisor')
    return 'gVisor\u2019s noexec refuses an execve, not a mapping made executable: ld.so runs a program written to /tmp'
  const at = latestAtEachPlace(p.filesystem)
    .filter((e) => (e.kind === 'tmpfs' || e.kind === 'bind') && under('/tmp', e.dest))
    .sort((a, b) => b.dest.length - a.dest.length)[0]
  if (at?.kind === 'tmpfs' && at.exec !== false) return `the policy's tmpfs at ${at.dest} allows exec`
  if (at?.kind === 'bind' && !at.readOnly && (at.access === undefined || at.access.includes('execute')))
    return `the policy binds ${at.dest} writable`
  return undefined
}

export const FILESYSTEM_PROBES: readonly ProbeSpec[] = [
  {
    name: 'read-shadow',
    calls: OPEN_CALLS,
    attack: 'read /etc/shadow',
    args: { openat: openat(O_READ) },
    layers: { EACCES: 'mount view (masked) or Landlock', ENOENT: 'mount view', none: 'mount view (masked)' },
  },
  {
    name: 'read-home',
    calls: OPEN_CALLS,
    targets: ({ policy, ctx, add }) => {
      // A bind below the home (a project in ~/src) makes the view create the directories on
      // its way there: those names are the policy's, any other entry is the host's home.
      const inside = policy.namespaces.mount
        ? policy.filesystem.flatMap((e) =>
            e.kind === 'bind' && e.dest.startsWith(`${ctx.home}/`)
              ? [e.dest.slice(ctx.home.length + 1).split('/')[0]!]
              : [],
          )
        : []
      const names = [...new Set(inside)]
      // `//` cannot occur in the normalised home path; names cannot hold `/`.
      add(names.length ? `${ctx.home}//${names.join('/')}` : ctx.home, ctx.home)
    },
    attack: 'list the host home directory',
    args: { openat: openat(O_OPENDIR) },
    notExpected: (p, ctx) =>
      p.filesystem.some((e) => e.kind === 'bind' && under(ctx.home, e.src))
        ? `the policy binds ${ctx.home}`
        : undefined,
    layers: { ENOENT: 'mount view', EACCES: 'landlock', none: 'mount view (empty)' },
  },
  {
    name: 'write-outside',
    calls: CREATE_CALLS,
    targets: ({ fx, add }) => {
      for (const t of fx.writeTargets) add(t, dirname(t))
    },
    verdict: ({ arg, spec, kept }) => kept(existsSync(arg), spec.layers.private),
    attack: 'create a file in a host directory the policy does not make writable',
    args: { openat: openat(O_CREAT_EXCL, 0o600n) },
    layers: {
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view',
      EACCES: 'landlock or file permissions',
      private: 'mount view (a private tmpfs: nothing reached the host)',
    },
  },
  // issue 18 (binds): kernel interfaces reached through a wide bind or a traced view
  {
    name: 'kernel-knobs',
    calls: OPEN_CALLS,
    attack: "open the host's sysfs and cgroupfs knobs for writing (leave the pids limit, raise pids.max)",
    args: { openat: openat(O_WRITE) },
    notExpected: (p) => boundWritable(p, '/sys'),
    layers: {
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view',
      EACCES: 'landlock or file permissions',
    },
  },
  {
    name: 'dev-write',
    calls: CREATE_CALLS,
    targets: ({ add }) => add(devTarget(), '/dev'),
    verdict: ({ arg, spec, kept }) => {
      const landed = existsSync(arg)
      if (landed) rmSync(arg, { force: true })
      return kept(landed, spec.layers.private)
    },
    attack: "create a file in the host's /dev (devtmpfs)",
    args: { openat: openat(O_CREAT_EXCL, 0o600n) },
    notExpected: (p) => boundWritable(p, '/dev'),
    layers: {
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view',
      EACCES: 'landlock or file permissions',
      private: 'mount view (a private /dev: nothing reached the host)',
    },
  },
  {
    name: 'exec-tmp',
    calls: WRITE_EXEC_CALLS,
    attack: 'write a program to /tmp ($TMPDIR) and run it, or map it executable as ld.so does',
    args: { openat: openat(O_CREAT_EXCL, 0o755n) }, // the copy it runs
    notExpected: execInTmp,
    layers: {
      EACCES: 'mount view (noexec) and Landlock',
      EPERM: 'mount view (noexec)',
      EROFS: 'mount view (read-only)',
    },
  },
  {
    name: 'exec-caps',
    calls: EXEC_CALLS,
    attack: 'gain capabilities by exec (root inside the sandbox)',
    layers: { none: 'capabilities (bounding set) and no_new_privs' },
  },
  // Exec from memory and from /dev/shm (issue 18, finding 8).
  {
    name: 'exec-memfd',
    calls: [['memfd_create'], ['execveat', 'execve']], // execve of /proc/self/fd/N runs it too
    attack: 'write a program into a memfd and run it (memfd_create without MFD_NOEXEC_SEAL, execveat)',
    args: { memfd_create: [0n, 0n] },
    essential: { memfd_create: { 1: 0x18n } }, // without MFD_NOEXEC_SEAL, or with MFD_EXEC
    layers: { EACCES: 'seccomp (MFD_NOEXEC_SEAL required)', EPERM: 'seccomp' },
  },
  {
    name: 'exec-devshm',
    calls: WRITE_EXEC_CALLS,
    attack: 'write a program to /dev/shm and run it',
    args: { openat: openat(O_CREAT_EXCL, 0o755n) },
    layers: {
      EACCES: 'mount view (noexec) or Landlock',
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view (no /dev/shm)',
    },
  },
  {
    name: 'exec-dev',
    calls: WRITE_EXEC_CALLS,
    attack: 'write a program to /dev and run it',
    args: { openat: openat(O_CREAT_EXCL, 0o755n) },
    layers: {
      EACCES: 'mount view (noexec) or Landlock',
      EROFS: 'mount view (read-only)',
      ENOENT: 'mount view (no /dev)',
    },
  },
  {
    name: 'setuid',
    calls: EXEC_CALLS,
    targets: ({ paths, add, skip }) => {
      if (paths.suid) add(paths.suid, 'a setuid/setgid-root fixture')
      else skip('preparing a setuid-root file needs root')
    },
    // Alone, so that the setuid fixture exists only for the milliseconds of its own run.
    alone: 'bracketed',
    fixture: placeSuidFixture,
    attack: 'gain root by running a setuid/setgid-root file',
    layers: {
      none: 'no_new_privs and nosuid mounts',
      EACCES: 'landlock or noexec',
      ENOENT: 'mount view',
    },
  },
]
