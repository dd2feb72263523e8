// Built-in profiles: starting points a policy `extends` or `--profile` picks. Relative paths in
// a profile resolve against the caller's working directory (the project).
import type { FilesystemEntry, Policy } from './schema.js'

const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32']

/** Files under /etc no sandboxed program has reason to read. */
export const ETC_SECRETS = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/ssh',
  '/etc/ssl/private',
  '/etc/security/opasswd',
  '/etc/krb5.keytab',
]

/** Where container platforms and SSSD leave credentials: Docker's and Kubernetes' mounted
 * secrets, SSSD's cache of password hashes. */
export const RUN_SECRETS = ['/run/secrets', '/var/run/secrets', '/var/lib/sss']

/** What a home holds that no sandboxed program has reason to read: keys and credentials. */
export const HOME_SECRETS = [
  '.ssh',
  '.gnupg',
  '.aws',
  '.azure',
  '.config/gcloud',
  '.kube',
  '.docker',
  '.netrc',
  '.git-credentials',
  '.npmrc',
  '.pypirc',
  '.password-store',
  '.vault-token',
]

const systemView: FilesystemEntry[] = [
  ...SYSTEM_DIRS.map((src) => ({ ro: { src, optional: true } })),
  { proc: '/proc' },
  { dev: '/dev' },
  // Writable means not executable: what a program drops in /tmp cannot be run.
  { tmpfs: { dest: '/tmp', exec: false } },
]

const baseEnv = {
  set: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp' },
  pass: ['TERM', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ', 'COLORTERM', 'NO_COLOR'],
}

const isolated: Policy = {
  namespaces: { user: true, pid: true, mount: true, ipc: true, uts: true, cgroup: true },
  network: 'none',
  hostname: 'cordon',
  // A fork bomb or a leak takes the sandbox down, not the host: half the memory (what Docker
  // Desktop gives its VM) and more tasks than a parallel build uses (systemd's DefaultTasksMax
  // is 15% of pid_max, 4915 by default). Best effort: without a cgroup for the caller, pids is
  // RLIMIT_NPROC inside the user namespace and memory is reported as not enforced.
  limits: { pids: 4096, memory: '50%' },
}

// A null-prototype object: names come from policies and flags, and `constructor` or `toString`
// must name no profile (an `extends: [constructor]` crashed the resolver).
export const PROFILES: Readonly<Record<string, { description: string; policy: Policy }>> = Object.assign(
  Object.create(null) as Record<string, { description: string; policy: Policy }>,
  {
    default: {
      description:
        'Untrusted script in a project directory: system directories and /etc (minus secrets) read-only, ' +
        'the current directory read-only, private /tmp, no network, no host processes, nothing of $HOME.',
      policy: {
        ...isolated,
        filesystem: [
          ...systemView,
          { ro: '/etc' },
          ...ETC_SECRETS.map((dest) => ({ mask: dest })),
          { tmpfs: { dest: '/var/tmp', exec: false } },
          { ro: '.' },
        ],
        env: baseEnv,
      },
    },
    minimal: {
      description:
        'Only the system directories, /proc, /dev and a private /tmp: no /etc, no project, no network.',
      policy: { ...isolated, filesystem: systemView, env: baseEnv },
    },
  },
)

/** Every namespace off: `--no-namespaces`, for hosts that block user namespaces. */
export const NO_NAMESPACES = {
  user: false,
  pid: false,
  mount: false,
  ipc: false,
  uts: false,
  cgroup: false,
  time: false,
} as const
