// Docker, Podman and containerd start containers with runc (the reference) and with
// cordon-oci, through the integration recipes the README gives (daemon.json `runtimes`,
// `podman --runtime`, `ctr run --runc-binary`). Opt-in: `npm run test:engines` (each engine is
// started privately, ~1 min in all); .ci/run does not install the engines.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { isRoot, ROOT } from '../helpers.js'
import {
  type Engine,
  type EngineName,
  engineMissing,
  runCmd,
  startContainerd,
  startDocker,
  startPodman,
  tarOf,
  writeOciArchive,
  writeRootfs,
} from './oci-engines.js'

const OPT_IN = process.env.CORDON_ENGINE_TESTS === '1'
const RUNC = runCmd('sh', ['-c', 'command -v runc']).stdout.trim()
/** The runtime under test: CORDON_OCI, else the package's own bin/cordon-oci. */
const CORDON_OCI = process.env.CORDON_OCI || join(ROOT, 'bin', 'cordon-oci')
const cordonMissing = existsSync(CORDON_OCI) ? undefined : `${CORDON_OCI} does not exist (set CORDON_OCI)`

const gate = (engine: EngineName): string | false => {
  if (!OPT_IN) return 'opt-in: npm run test:engines (starts dockerd and containerd)'
  if (!isRoot) return 'the engines run as root here'
  return engineMissing(engine) ?? (RUNC ? false : 'runc not installed (apt-get install runc)')
}

/** The image: busybox-static and nothing else; built once for all engines. */
function image(work: string): { rootfsTar: string; ociArchive: string } {
  const rootfs = join(work, 'rootfs')
  writeRootfs(rootfs)
  const rootfsTar = join(work, 'rootfs.tar')
  writeFileSync(rootfsTar, tarOf(rootfs))
  const ociArchive = join(work, 'image.oci.tar')
  writeOciArchive(rootfs, ociArchive, work)
  return { rootfsTar, ociArchive }
}

const ID_LS = 'id; ls /'
// Docker and containerd keep CAP_MKNOD (Podman drops it: added back below), and the mount
// view allows device nodes on the container's root: only Landlock's make_char stops this.
const MKNOD = 'mknod /tmp/null-copy c 1 3 && echo made || echo refused'

for (const name of ['docker', 'podman', 'containerd'] as const) {
  describe(`${name} with a runtime given by path`, { skip: gate(name) }, () => {
    let work = ''
    let engine: Engine
    before(async () => {
      work = mkdtempSync(join(tmpdir(), `cordon-oci-${name}-`))
      const img = image(work)
      const runtimes = { cordon: CORDON_OCI, runc: RUNC }
      engine =
        name === 'docker'
          ? await startDocker(work, runtimes, img.rootfsTar)
          : name === 'podman'
            ? startPodman(work, img.rootfsTar)
            : await startContainerd(work, img.ociArchive)
    })
    after(async () => {
      await engine?.stop()
      rmSync(work, { recursive: true, force: true })
    })
    const mknodExtra = name === 'podman' ? ['--cap-add', 'MKNOD'] : []

    test(`runc runs sh -c '${ID_LS}'`, () => {
      const r = engine.run(RUNC, ID_LS)
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/)
      assert.match(r.stdout, /^bin$/m)
    })

    test(`cordon-oci runs sh -c '${ID_LS}'`, { skip: cordonMissing ?? false }, () => {
      const r = engine.run(CORDON_OCI, ID_LS)
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/)
      assert.match(r.stdout, /^bin$/m)
    })

    // Docker and Podman leave no_new_privs off unless asked; Landlock then needs the runtime
    // to restrict itself while it still holds CAP_SYS_ADMIN. This run sets it, to tell the two
    // apart when the default one fails.
    if (name !== 'containerd')
      test(
        `cordon-oci runs sh -c '${ID_LS}' with no-new-privileges`,
        { skip: cordonMissing ?? false },
        () => {
          const r = engine.run(CORDON_OCI, ID_LS, ['--security-opt', 'no-new-privileges'])
          assert.equal(r.status, 0, r.stderr)
          assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/)
        },
      )

    test(
      'runc lets the container create a device node; cordon-oci refuses it (Landlock)',
      {
        skip: cordonMissing ?? false,
      },
      () => {
        const ref = engine.run(RUNC, MKNOD, mknodExtra)
        assert.equal(ref.status, 0, ref.stderr)
        assert.match(ref.stdout, /^made$/m, 'the reference must show the gap Landlock closes')
        const r = engine.run(CORDON_OCI, MKNOD, mknodExtra)
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stdout, /^refused$/m)
        assert.match(r.stderr + r.stdout, /Permission denied/)
      },
    )

    if (name === 'podman')
      // Podman passes annotations (`--annotation`), as Docker 28 and ctr 1.6 do.
      test(
        'cordon-oci freezes a fork storm (org.cordon.monitor), or refuses the annotation by name',
        {
          skip: cordonMissing ?? false,
        },
        () => {
          const storm = 'i=0; while [ $i -lt 3000 ]; do sleep 20 & i=$((i+1)); done; echo spawned; wait'
          const r = engine.run(CORDON_OCI, storm, [
            '--annotation',
            'org.cordon.monitor=on',
            '--pids-limit',
            '4000',
          ])
          if (r.status !== 0 && /org\.cordon\.monitor/.test(r.stderr))
            return assert.fail(`refused, naming the annotation (no monitor yet): ${r.stderr.trim()}`)
          assert.match(r.stderr + r.stdout, /frozen|froze/i, `exit ${r.status}: ${r.stderr.slice(-400)}`)
        },
      )
  })
}
