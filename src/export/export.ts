// `cordon export`: one policy, the ecosystem's formats (src/export/*.ts for each).
import { compilePlan } from '../plan/compile.js'
import { encodePlan } from '../plan/encode.js'
import { NO_NAMESPACES } from '../policy/profiles.js'
import type { ResolvedPolicy } from '../policy/resolve.js'
import { stringifyOci } from '../seccomp/oci.js'
import { exportDocker } from './docker.js'
import { exportKubernetes } from './kubernetes.js'
import { type Exported, type ExportFormat, type ExportOptions, seccompProfile } from './model.js'
import { exportOciBundle } from './oci-bundle.js'
import { exportSystemd } from './systemd.js'

export interface ExportRequest extends ExportOptions {
  /** systemd, kubernetes: run through cordon-exec with the compiled plan (every layer). */
  wrap?: boolean
}

export function exportPolicy(policy: ResolvedPolicy, format: ExportFormat, request: ExportRequest): Exported {
  const ctx = {
    uid: request.uid,
    gid: request.gid,
    cwd: request.cwd,
    arch: request.arch,
    command: request.command,
  }
  switch (format) {
    case 'oci-seccomp': {
      const { profile, gaps } = seccompProfile(policy, request.arch)
      return {
        format,
        files: [
          { kind: 'file', path: `${request.name}.seccomp.json`, content: `${stringifyOci(profile)}\n` },
        ],
        gaps,
        usage: [
          `docker run --security-opt seccomp=${request.name}.seccomp.json …`,
          `Kubernetes: /var/lib/kubelet/seccomp/${request.name}.json, seccompProfile {type: Localhost}`,
        ],
      }
    }
    case 'docker':
      return exportDocker(policy, request)
    case 'kubernetes': {
      // Inside a pod the runtime's seccomp profile refuses unshare: a plan without namespaces.
      const plan = request.wrap
        ? encodePlan(
            compilePlan(
              { ...policy, namespaces: { ...NO_NAMESPACES, net: false } },
              { ...ctx, viewProvided: true },
            ),
          )
        : undefined
      return exportKubernetes(policy, request, plan)
    }
    case 'systemd':
      return exportSystemd(policy, request, request.wrap ? encodePlan(compilePlan(policy, ctx)) : undefined)
    case 'oci-bundle':
      return exportOciBundle(policy, request)
  }
}
