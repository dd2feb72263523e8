#!/usr/bin/env node
// The `cordon` command: everything lives in build/src/cli, loaded lazily for start-up speed.
import('../build/src/cli/main.js').then(
  (cli) => cli.main(cli.rawArgs()),
  (error) => {
    console.error(`cordon: cannot load the CLI (${error.message}); run \`npm run build\` in the package`)
    process.exit(125)
  },
)
