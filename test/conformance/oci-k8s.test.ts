// The Kubernetes recipe (docs/oci/): containerd loads the runtime handler with its BinaryName,
// and the RuntimeClass manifest is valid against Kubernetes' schema. A cluster is not
// available here; these are the two files a cluster operator applies.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { load } from 'js-yaml'
import { RuntimeClass } from 'kubernetes-models/node.k8s.io/v1/RuntimeClass'
import { ROOT } from '../helpers.js'
import { engineMissing } from './oci-engines.js'

const DOCS = join(ROOT, 'docs', 'oci')

test('the RuntimeClass manifest is valid and names the containerd handler', () => {
  const doc = load(readFileSync(join(DOCS, 'runtimeclass-cordon.yaml'), 'utf8')) as Record<string, unknown>
  const rc = new RuntimeClass(doc as ConstructorParameters<typeof RuntimeClass>[0])
  rc.validate()
  assert.equal(rc.handler, 'cordon')
  const toml = readFileSync(join(DOCS, 'containerd-cordon.toml'), 'utf8')
  assert.match(toml, new RegExp(`containerd\\.runtimes\\.${rc.handler}\\]`))
})

test(
  'containerd loads the cordon handler with its BinaryName and annotation pass-through',
  {
    skip: engineMissing('containerd') ?? false,
  },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-oci-k8s-'))
    try {
      // The snippet, with a private root and state so nothing touches the host's containerd.
      const config = join(dir, 'config.toml')
      const snippet = readFileSync(join(DOCS, 'containerd-cordon.toml'), 'utf8')
      writeFileSync(
        config,
        snippet.replace('version = 2\n', `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\n`),
      )
      const r = spawnSync('containerd', ['--config', config, 'config', 'dump'], {
        encoding: 'utf8',
        timeout: 30_000,
      })
      assert.equal(r.status, 0, r.stderr)
      const section = r.stdout.split(/\n(?=\s*\[)/)
      const handler = section.find((s) => /containerd\.runtimes\.cordon\]/.test(s))
      const options = section.find((s) => /containerd\.runtimes\.cordon\.options\]/.test(s))
      assert.match(handler ?? '', /runtime_type = "io\.containerd\.runc\.v2"/)
      assert.match(handler ?? '', /pod_annotations = \["org\.cordon\.\*"\]/)
      assert.match(options ?? '', /BinaryName = "\/usr\/local\/bin\/cordon-oci"/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
)
