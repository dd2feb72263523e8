#!/usr/bin/env node
// The `cordon` command as an ES module, for callers that name this file: it starts as
// bin/cordon.cjs does (package.json's `bin`, which says how the CLI is bundled and loaded).
// Node's ES module loader starts for this file first, so this entry costs a few ms more.
import { createRequire } from 'node:module'

createRequire(import.meta.url)('./cordon.cjs').start()
