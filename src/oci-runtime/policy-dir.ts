// Root's directory of named policies and monitor rules (org.cordon.policy, org.cordon.monitor),
// apart from the policy compiler: `start`, `state` and `delete` ask for it and must stay light.
import { lstatSync, readFileSync } from 'node:fs'
import { CordonError } from '../errors.js'

export const POLICY_ANNOTATION = 'org.cordon.policy'

/** Where named policies live: root's own directory (CORDON_OCI_POLICIES in the runtime's
 * environment moves it). Only names are looked up there, never paths: whoever writes a pod or
 * a `docker run` chooses the annotation, and a path would let them make root read any file and
 * echo its lines back in a parse error. */
export const policyDir = (): string => process.env.CORDON_OCI_POLICIES ?? '/etc/cordon/policies'

/** A policy or rules file root trusts: not a link, owned by root or the caller, writable by no
 * one else; undefined when missing. */
export function readOwnFile(file: string, field: string): string | undefined {
  let st
  try {
    st = lstatSync(file)
  } catch {
    return undefined
  }
  const uid = process.geteuid?.() ?? 0
  if (!st.isFile() || (st.uid !== 0 && st.uid !== uid) || st.mode & 0o022)
    throw new CordonError(
      'invalid_usage',
      `${field}: ${file} must be a regular file owned by root (or uid ${uid}) and writable by no one else`,
    )
  return readFileSync(file, 'utf8')
}
