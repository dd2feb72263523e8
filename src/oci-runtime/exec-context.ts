// What `exec` needs from `create`: the container's config.json as it was created (the bundle
// may change or go away afterwards) and its cgroup view, kept in the private state directory.
import { readFileSync, writeFileSync } from 'node:fs'
import { CordonError } from '../errors.js'
import type { CgroupView } from './mounts.js'
import type { OciConfig } from './spec.js'

export interface ExecContext {
  config: OciConfig
  cgroups: CgroupView
}

export function saveExecContext(dir: string, config: OciConfig, cgroups: CgroupView): void {
  const ctx: ExecContext = { config, cgroups }
  writeFileSync(`${dir}/exec-context.json`, JSON.stringify(ctx), { mode: 0o600 })
}

export function loadExecContext(dir: string, id: string): ExecContext {
  try {
    return JSON.parse(readFileSync(`${dir}/exec-context.json`, 'utf8')) as ExecContext
  } catch {
    throw new CordonError(
      'not_found',
      `container "${id}" has no exec context (created by an older cordon-oci): recreate it to exec into it`,
    )
  }
}
