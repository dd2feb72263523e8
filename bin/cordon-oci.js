#!/usr/bin/env node
// cordon-oci: an OCI runtime with runc's command line (src/oci-runtime), loaded lazily. The
// bundle (scripts/bundle-cli.mjs) saves most of Node's per-module cost at each of the several
// starts an engine makes per container; a checkout built without esbuild uses the modules.
const load = (path) => import(path)
load('../build/src/oci-bundle/oci.js')
  .catch((error) =>
    error?.code === 'ERR_MODULE_NOT_FOUND' && /oci-bundle[\\/]oci\.js/.test(error.message)
      ? load('../build/src/oci-runtime/main.js')
      : Promise.reject(error),
  )
  .then(
    async (m) => process.exit(await m.main(m.rawArgs?.() ?? process.argv.slice(2))),
    (error) => {
      console.error(
        `cordon-oci: cannot load the runtime (${error.message}); run \`npm run build\` in the package`,
      )
      process.exit(1)
    },
  )
