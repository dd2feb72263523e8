#!/usr/bin/env node
// The `cordon` command: the CLI bundled by `npm run build` (scripts/bundle-cli.mjs) into
// build/src/cli-bundle, one file plus the chunks its commands load lazily, for start-up speed.
// A checkout built without esbuild has only the unbundled modules (build/src/cli): those serve.
const load = (path) => import(path)
load('../build/src/cli-bundle/main.js')
  .catch((error) =>
    error?.code === 'ERR_MODULE_NOT_FOUND' && /cli-bundle[\\/]main\.js/.test(error.message)
      ? load('../build/src/cli/main.js')
      : Promise.reject(error),
  )
  .then(
    (cli) => cli.main(cli.rawArgs()),
    (error) => {
      console.error(`cordon: cannot load the CLI (${error.message}); run \`npm run build\` in the package`)
      process.exit(125)
    },
  )
