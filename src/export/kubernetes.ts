// Kubernetes: a Pod whose securityContext says what the policy says (seccompProfile Localhost,
// non-root, read-only root, capabilities, no privilege escalation, resources), a NetworkPolicy
// for its network statements, and the Security Profiles Operator's SeccompProfile carrying the
// syscall filter to the nodes. Kubernetes has no Landlock field: with `wrap`, the container
// starts through cordon-exec and a plan compiled without namespaces (a container cannot make
// them under the runtime's default seccomp profile), which adds Landlock, cordon's filter,
// no_new_privs and rlimits inside the pod.
import { stringify } from 'yaml'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { stringifyOci } from '../seccomp/oci.js'
import {
  dataBinds,
  type Exported,
  type ExportFile,
  type ExportOptions,
  type Gap,
  keptCapabilities,
  landlockGap,
  seccompProfile,
  tmpfses,
} from './model.js'

/** Where the wrapper's files live in the image (a layer the Dockerfile below adds). */
export const WRAP_DIR = '/opt/cordon'

const dnsName = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63) || 'cordon'

export function exportKubernetes(
  policy: ResolvedPolicy,
  options: ExportOptions,
  plan?: Uint8Array,
): Exported {
  const gaps: Gap[] = []
  const name = dnsName(options.name)
  const seccomp = seccompProfile(policy, options.arch)
  gaps.push(...seccomp.gaps)
  if (!plan) gaps.push(...landlockGap(policy, 'Kubernetes', '--wrap'))
  const uid = policy.user.uid ?? (options.uid === 0 ? 65534 : options.uid)
  const gid = policy.user.gid ?? (options.gid === 0 ? 65534 : options.gid)
  const caps = keptCapabilities(policy).map((c) => c.replace(/^CAP_/, ''))
  const volumes: Record<string, unknown>[] = []
  const mounts: Record<string, unknown>[] = []
  for (const [i, t] of tmpfses(policy).entries()) {
    volumes.push({
      name: `tmp-${i}`,
      emptyDir: { medium: 'Memory', ...(t.size ? { sizeLimit: String(t.size) } : {}) },
    })
    mounts.push({ name: `tmp-${i}`, mountPath: t.dest })
    if (t.exec === false)
      gaps.push({ statement: `tmpfs ${t.dest} noexec`, why: 'emptyDir volumes cannot be mounted noexec' })
  }
  for (const b of dataBinds(policy)) {
    gaps.push({
      statement: `${b.readOnly ? 'ro' : 'rw'} ${b.src}${b.src === b.dest ? '' : ` → ${b.dest}`}`,
      why: `a host path has no place in a pod: mount your data as a volume at ${b.dest}${b.readOnly ? ' (readOnly: true)' : ''}`,
    })
  }
  if (policy.user.uid === undefined && options.uid === 0)
    gaps.push({
      statement: 'uid',
      why: 'the caller is root: the pod runs as 65534 (nobody) instead, runAsNonRoot',
    })
  const l = policy.limits
  const limits: Record<string, string> = {}
  if (l.memory !== undefined) limits.memory = String(l.memory)
  if (l.cpus !== undefined) limits.cpu = `${Math.round(l.cpus * 1000)}m`
  if (l.pids !== undefined)
    gaps.push({
      statement: `limits.pids ${l.pids}`,
      why: 'pod pid limits are the kubelet’s (podPidsLimit), not the pod’s',
    })
  for (const [key, word] of [
    ['swap', 'swap'],
    ['cpuWeight', 'cpu-weight'],
    ['cpuset', 'cpuset'],
    ['ioWeight', 'io-weight'],
  ] as const)
    if (l[key] !== undefined)
      gaps.push({
        statement: `limits.${word} ${l[key]}`,
        why: 'a pod’s resources have no such field: the node’s kubelet and runtime decide it',
      })
  if (l.timeoutMs !== undefined)
    gaps.push({
      statement: 'limits.timeout',
      why: 'use the Pod’s activeDeadlineSeconds (set below) or a Job',
    })
  const ns = policy.namespaces
  if (ns.user)
    gaps.push({
      statement: 'user namespace',
      why: 'set hostUsers: false (Kubernetes ≥ 1.30 with a runtime that supports it)',
    })
  const localhost = `operator/default/${name}.json`
  const command = plan
    ? [`${WRAP_DIR}/cordon-exec`, `${WRAP_DIR}/${name}.plan`, '--', ...options.command]
    : options.command
  const env = Object.entries(policy.env.set).map(([k, v]) => ({ name: k, value: v }))
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'app.kubernetes.io/name': name, 'cordon.dev/policy': name } },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      hostNetwork: policy.network === 'host',
      hostPID: !ns.pid,
      hostIPC: !ns.ipc,
      ...(l.timeoutMs !== undefined ? { activeDeadlineSeconds: Math.ceil(l.timeoutMs / 1000) } : {}),
      ...(ns.uts && policy.hostname !== undefined ? { hostname: dnsName(policy.hostname) } : {}),
      securityContext: {
        runAsNonRoot: uid !== 0,
        runAsUser: uid,
        runAsGroup: gid,
        seccompProfile: { type: 'Localhost', localhostProfile: localhost },
      },
      containers: [
        {
          name,
          image: options.image,
          command,
          ...(env.length ? { env } : {}),
          ...(policy.cwd ? { workingDir: policy.cwd } : {}),
          securityContext: {
            allowPrivilegeEscalation: false,
            privileged: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'], ...(caps.length ? { add: caps } : {}) },
            seccompProfile: { type: 'Localhost', localhostProfile: localhost },
          },
          ...(Object.keys(limits).length ? { resources: { limits, requests: limits } } : {}),
          ...(mounts.length ? { volumeMounts: mounts } : {}),
        },
      ],
      ...(volumes.length ? { volumes } : {}),
    },
  }
  const docs: Record<string, unknown>[] = [pod]
  if (policy.network !== 'host') {
    const egress = policy.tcp?.connect.length
      ? [{ ports: policy.tcp.connect.map((port) => ({ protocol: 'TCP', port })) }]
      : []
    const ingress = policy.tcp?.bind.length
      ? [{ ports: policy.tcp.bind.map((port) => ({ protocol: 'TCP', port })) }]
      : []
    docs.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${name}-network` },
      spec: {
        podSelector: { matchLabels: { 'cordon.dev/policy': name } },
        policyTypes: ['Ingress', 'Egress'],
        ingress,
        egress,
      },
    })
    if (policy.network === 'loopback' && !policy.tcp)
      gaps.push({
        statement: 'network loopback',
        why: 'a pod always has loopback; the NetworkPolicy denies everything else',
      })
  }
  docs.push({
    apiVersion: 'security-profiles-operator.x-k8s.io/v1beta1',
    kind: 'SeccompProfile',
    metadata: { name, namespace: 'default' },
    spec: seccomp.profile,
  })
  const yaml = docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n')
  const files: ExportFile[] = [
    {
      kind: 'file',
      path: `${name}.yaml`,
      content: `# cordon export --to kubernetes: ${policy.sources.join(' → ')}\n${yaml}`,
    },
    { kind: 'file', path: `${name}.seccomp.json`, content: `${stringifyOci(seccomp.profile)}\n` },
  ]
  if (plan) {
    files.push({ kind: 'file', path: `${name}.plan`, content: plan })
    files.push({
      kind: 'file',
      path: 'Dockerfile.cordon',
      content: [
        '# The wrapper layer: cordon-exec (linked against glibc: the image needs one) and the compiled plan.',
        'ARG BASE',
        'FROM ${BASE}',
        `COPY cordon-exec ${WRAP_DIR}/cordon-exec`,
        `COPY ${name}.plan ${WRAP_DIR}/${name}.plan`,
        '',
      ].join('\n'),
    })
  }
  return {
    format: 'kubernetes',
    files,
    gaps,
    usage: [
      `with the Security Profiles Operator: kubectl apply -f ${name}.yaml`,
      `without it: copy ${name}.seccomp.json to /var/lib/kubelet/seccomp/${localhost} on every node`,
      ...(plan
        ? [`build the image with Dockerfile.cordon (docker build --build-arg BASE=${options.image})`]
        : []),
    ],
  }
}
