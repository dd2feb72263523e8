// Start-up overhead of cordon-oci against runc under the same engine: `RUNTIME run` of a bundle
// directly, `ctr run --runc-binary`, `podman --runtime` and `docker run --runtime`, each
// running `true` in a busybox-static container. Runtimes alternate within each round, so load
// on the machine falls on both alike; prints medians and the ratio (target: <= 1.0x runc).
//
//   npm run build && node bench/oci.mjs [--cordon PATH] [--runs N] [--only direct,ctr,podman,docker]
// Root. Engines that are not installed are skipped with the reason.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const m = await import(join(root, 'build', 'test', 'conformance', 'oci-engines.js'))
const { values } = parseArgs({
  options: {
    cordon: { type: 'string', default: process.env.CORDON_OCI || join(root, 'bin', 'cordon-oci') },
    runs: { type: 'string', default: '15' },
    only: { type: 'string', default: 'direct,ctr,podman,docker' },
  },
})
const runs = Number(values.runs)
const runc = spawnSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).stdout.trim()
const runtimes = { runc, 'cordon-oci': values.cordon }
const only = values.only.split(',')
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/** N interleaved rounds of `start(runtime)`; each must succeed. */
function measure(label, start) {
  const times = Object.fromEntries(Object.keys(runtimes).map((r) => [r, []]))
  start(runc) // warm the page cache and the engine's image
  for (let i = 0; i < runs; i++)
    for (const [name, path] of i % 2 ? Object.entries(runtimes).reverse() : Object.entries(runtimes)) {
      const r = start(path)
      if (r.status !== 0) throw new Error(`${label} ${name}: exit ${r.status}: ${r.stderr.slice(-500)}`)
      times[name].push(r.ms)
    }
  const [a, b] = Object.values(times).map(median)
  console.log(
    `${label.padEnd(8)} runc ${a.toFixed(0).padStart(5)} ms   cordon-oci ${b.toFixed(0).padStart(5)} ms   ratio ${(b / a).toFixed(2)}x`,
  )
}

const work = mkdtempSync(join(tmpdir(), 'cordon-oci-bench-'))
try {
  const rootfs = join(work, 'bundle', 'rootfs')
  m.writeRootfs(rootfs)
  const rootfsTar = join(work, 'rootfs.tar')
  writeFileSync(rootfsTar, m.tarOf(rootfs))
  const ociArchive = join(work, 'image.oci.tar')
  m.writeOciArchive(rootfs, ociArchive, work)
  console.log(`median of ${runs} starts of \`true\`, runtimes interleaved`)

  if (only.includes('direct')) {
    const bundle = join(work, 'bundle')
    spawnSync(runc, ['spec', '--bundle', bundle])
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
    spec.process.terminal = false
    spec.process.args = ['/bin/true']
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec))
    let n = 0
    const state = join(work, 'state')
    measure('direct', (rt) =>
      m.runCmd(rt, ['--root', state, 'run', '--bundle', bundle, `bench-${process.pid}-${n++}`]),
    )
  }
  for (const name of ['ctr', 'podman', 'docker'].filter((e) => only.includes(e))) {
    const engineName = name === 'ctr' ? 'containerd' : name
    const missing = m.engineMissing(engineName)
    if (missing) {
      console.log(`${name.padEnd(8)} skipped: ${missing}`)
      continue
    }
    const engine =
      name === 'docker'
        ? await m.startDocker(work, { cordon: values.cordon, runc }, rootfsTar)
        : name === 'podman'
          ? m.startPodman(work, rootfsTar)
          : await m.startContainerd(work, ociArchive)
    try {
      // Each engine's defaults (Docker and Podman leave no_new_privs off; cordon-oci holds
      // CAP_SYS_ADMIN until execve for Landlock then), the same for both runtimes.
      measure(name, (rt) => engine.run(rt, 'true'))
    } finally {
      await engine.stop()
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
