// Kubernetes: a Pod whose securityContext says what the policy says (seccompProfile Localhost,
// non-root, read-only root, capabilities, no privilege escalation, resources), a NetworkPolicy
// for its network statements, and the Security Profiles Operator's SeccompProfile carrying the
// syscall filter to the nodes. Kubernetes has no Landlock field: with `wrap`, the container
// starts through cordon-exec and a plan compiled without namespaces (a container cannot make
// them under the runtime's default seccomp profile), which adds Landlock, cordon's filter,
// no_new_privs and rlimits inside the pod.
import { readFileSync } from 'node:fs'
import { stringify } from 'yaml'
import { launcherPath } from '../host/launcher.js'
import { exportRlimits } from '../policy/effective.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { stringifyOci } from '../seccomp/oci.js'
import {
  dataBinds,
  exportCwd,
  type Exported,
  type ExportFile,
  type ExportOptions,
  exportIdentity,
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

/** What the scheduler reserves at most: a floor, not the policy's ceiling. */
const REQUEST = { memory: 64 * 2 ** 20, milliCpu: 100 }

/** The NetworkPolicy: never wider than the policy. It governs only traffic leaving or entering
 * the pod, never the pod's own loopback, so cordon's `none` and `loopback` (ports included) are a
 * deny-all, and only a host network's TCP ports become allowed ports (to and from anywhere, as
 * the policy says). */
function networkPolicy(
  policy: ResolvedPolicy,
  name: string,
  gaps: Gap[],
  wrapped: boolean,
): Record<string, unknown> {
  const outside = policy.network === 'host' && policy.tcp
  const ports = (list: number[] | undefined) =>
    outside && list?.length ? [{ ports: list.map((port) => ({ protocol: 'TCP', port })) }] : []
  if (policy.network === 'none')
    gaps.push({
      statement: 'network none',
      why: 'a pod’s loopback is up (cordon leaves it down); the NetworkPolicy denies everything else',
    })
  if (policy.network === 'loopback')
    gaps.push({
      statement: 'network loopback',
      why: 'a pod always has loopback; the NetworkPolicy denies everything else',
    })
  if (policy.tcp && !wrapped)
    gaps.push({
      statement: `tcp bind [${policy.tcp.bind.join(' ')}] connect [${policy.tcp.connect.join(' ')}]`,
      why:
        policy.network === 'host'
          ? 'the NetworkPolicy allows these ports to and from the pod; inside the pod (its loopback) every port is open: --wrap adds Landlock’s port rules'
          : 'a NetworkPolicy never governs a pod’s loopback: every 127.0.0.1 port is open within the pod (--wrap adds Landlock’s port rules)',
    })
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${name}-network` },
    spec: {
      podSelector: { matchLabels: { 'cordon.dev/policy': name } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: ports(policy.tcp?.bind),
      egress: ports(policy.tcp?.connect),
    },
  }
}

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
  // A Pod has no rlimit field: its runtime's own apply (rtprio and nice as the node gives them).
  const rlimits = Object.entries(exportRlimits(policy))
  if (!plan && rlimits.length)
    gaps.push({
      statement: `rlimits ${rlimits.map(([r, v]) => `${r} ${v}`).join(', ')}`,
      why: 'a Pod cannot set rlimits (the container runtime’s apply); --wrap sets them inside the container',
    })
  const { uid, gid } = exportIdentity(policy, options, true)
  const cwd = exportCwd(policy, options)
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
  // A share of the exporting host's memory ("50%", the default profile's) says nothing about a
  // node: no memory limit from it, and a gap. Set in bytes, it is the limit.
  const percent = l.memoryPercent
  if (l.memory !== undefined && percent === undefined) limits.memory = String(l.memory)
  else if (percent !== undefined)
    gaps.push({
      statement: `limits.memory ${percent}%`,
      why: 'a share of the exporting host means nothing on a node: set resources.limits.memory in bytes for your nodes',
    })
  if (l.cpus !== undefined) limits.cpu = `${Math.round(l.cpus * 1000)}m`
  // Requests are what the scheduler reserves, and the policy states only ceilings: a small floor
  // (the limit if lower), so the pod schedules on any node that can start it. Without requests
  // Kubernetes would copy the limits into them.
  const requests: Record<string, string> = {}
  if (limits.memory !== undefined) requests.memory = String(Math.min(Number(limits.memory), REQUEST.memory))
  if (l.cpus !== undefined) requests.cpu = `${Math.min(Math.round(l.cpus * 1000), REQUEST.milliCpu)}m`
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
      why: 'hostUsers: false is set: it needs Kubernetes ≥ 1.30 (UserNamespacesSupport) and a runtime that supports it; elsewhere the pod is refused',
    })
  // The operator's v1 SeccompProfile is cluster-scoped: its file is operator/NAME.json.
  const localhost = `operator/${name}.json`
  const image = plan ? `cordon/${name}:wrapped` : options.image
  // Host network with TCP statements: the pod network and a NetworkPolicy of exactly those
  // ports (a NetworkPolicy does not apply to a hostNetwork pod).
  const hostNetwork = policy.network === 'host' && !policy.tcp
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
      hostNetwork,
      hostPID: !ns.pid,
      hostIPC: !ns.ipc,
      ...(ns.user && !hostNetwork && ns.pid && ns.ipc ? { hostUsers: false } : {}),
      // One command, run once, as cordon run does.
      restartPolicy: 'Never',
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
          image,
          ...(plan ? { imagePullPolicy: 'IfNotPresent' } : {}),
          command,
          ...(env.length ? { env } : {}),
          ...(cwd ? { workingDir: cwd } : {}),
          securityContext: {
            allowPrivilegeEscalation: false,
            privileged: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'], ...(caps.length ? { add: caps } : {}) },
            seccompProfile: { type: 'Localhost', localhostProfile: localhost },
          },
          ...(Object.keys(limits).length ? { resources: { limits, requests } } : {}),
          ...(mounts.length ? { volumeMounts: mounts } : {}),
        },
      ],
      ...(volumes.length ? { volumes } : {}),
    },
  }
  const docs: Record<string, unknown>[] = [pod]
  if (!hostNetwork) docs.push(networkPolicy(policy, name, gaps, plan !== undefined))
  // The Security Profiles Operator's v1 API (its storage version; v1beta1 is converted to it):
  // cluster-scoped, and without defaultErrnoRet, which strict validation would refuse.
  const { defaultErrnoRet, ...spec } = seccomp.profile
  if (defaultErrnoRet !== undefined && defaultErrnoRet !== 1)
    gaps.push({
      statement: `seccomp default errno ${defaultErrnoRet}`,
      why: `the operator's SeccompProfile has no defaultErrnoRet: refused calls fail EPERM; ${name}.seccomp.json (Localhost without the operator) keeps it`,
    })
  docs.push({
    apiVersion: 'security-profiles-operator.x-k8s.io/v1',
    kind: 'SeccompProfile',
    metadata: { name },
    spec,
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
    // The build context is the output directory: the launcher is copied there, beside the plan.
    files.push({ kind: 'file', path: 'cordon-exec', content: readFileSync(launcherPath()), mode: 0o755 })
    files.push({ kind: 'file', path: `${name}.plan`, content: plan })
    files.push({
      kind: 'file',
      path: 'Dockerfile.cordon',
      content: [
        `# The wrapper layer: cordon-exec (${staticBinary(launcherPath()) ? 'static: the image needs no libc' : 'linked against glibc: the image needs one'}) and the compiled plan.`,
        `ARG BASE=${options.image}`,
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
        ? [
            `build the Pod's image: docker build -f DIR/Dockerfile.cordon -t ${image} DIR (push it where your nodes pull from, and set the Pod's image to that name)`,
          ]
        : []),
    ],
  }
}

/** Whether an ELF executable asks for no program interpreter (PT_INTERP): a static build, which
 * native/Makefile makes where the toolchain has a static libc, else a dynamic one. */
function staticBinary(path: string): boolean {
  const elf = readFileSync(path)
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false
  const phoff = Number(elf.readBigUInt64LE(0x20))
  const size = elf.readUInt16LE(0x36)
  const count = elf.readUInt16LE(0x38)
  for (let i = 0; i < count; i++) {
    const at = phoff + i * size
    if (at + 4 > elf.length) return false
    if (elf.readUInt32LE(at) === 3) return false // PT_INTERP
  }
  return true
}
