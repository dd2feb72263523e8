// `features`: what cordon-oci carries out, in runc's features document shape (containerd reads it).
import { ARCHES } from '../seccomp/arch.js'
import { CAPABILITIES } from '../policy/capabilities.js'
import { FLAG_OPTIONS } from './mounts.js'
import { OCI_VERSION } from './state.js'

export function features(): string {
  return JSON.stringify(
    {
      ociVersionMin: '1.0.0',
      ociVersionMax: OCI_VERSION,
      hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
      mountOptions: [...FLAG_OPTIONS],
      linux: {
        namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
        capabilities: CAPABILITIES.map((c) => `CAP_${c.toUpperCase()}`),
        cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
        seccomp: {
          enabled: true,
          actions: [
            'SCMP_ACT_ALLOW',
            'SCMP_ACT_ERRNO',
            'SCMP_ACT_KILL',
            'SCMP_ACT_KILL_PROCESS',
            'SCMP_ACT_KILL_THREAD',
            'SCMP_ACT_LOG',
            'SCMP_ACT_TRACE',
            'SCMP_ACT_TRAP',
          ],
          operators: [
            'SCMP_CMP_EQ',
            'SCMP_CMP_GE',
            'SCMP_CMP_GT',
            'SCMP_CMP_LE',
            'SCMP_CMP_LT',
            'SCMP_CMP_MASKED_EQ',
            'SCMP_CMP_NE',
          ],
          archs: Object.values(ARCHES).map((a) => a.scmp),
          knownFlags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
          supportedFlags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
        },
        apparmor: { enabled: false },
        selinux: { enabled: false },
        intelRdt: { enabled: false },
        mountExtensions: { idmap: { enabled: false } },
      },
      annotations: { 'org.cordon.landlock': 'on', 'io.github.cordon.runtime': 'cordon-oci' },
    },
    null,
    '    ',
  )
}
