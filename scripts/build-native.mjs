// Builds the C launcher at install time with the system C compiler (no prebuilt downloads)
// into build/native/cordon-exec, where the `cordon-exec` bin shim finds it. The escape battery
// (`cordon verify`) is static and needs a static libc, which not every host has (Fedora's
// glibc-static): without it cordon is still installed, and verify says how to get it.
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'build', 'native')
// NODE: the Node that cordon-oci (native/oci-fast.c) runs for the commands it leaves to the
// TypeScript runtime; engines often run runtimes with a PATH that lacks it.
const make = (targets) =>
  execFileSync(
    'make',
    ['-s', '-C', join(root, 'native'), `OUT=${out}`, `NODE=${process.execPath}`, ...targets],
    {
      stdio: 'inherit',
    },
  )
try {
  make([join(out, 'cordon-exec'), join(out, 'cordon-oci')])
} catch {
  console.error(
    'cordon: building the launcher failed. It needs a C compiler and make: ' +
      'apt-get install build-essential (Debian/Ubuntu), dnf install gcc make (Fedora), then npm rebuild cordon',
  )
  process.exit(1)
}
try {
  make([join(out, 'cordon-spawn.node')])
} catch {
  console.error(
    'cordon: warning: the spawn addon (cordon-spawn.node) did not build; spawn() and `cordon run` ' +
      'start the launcher through child_process instead (spawn() ~8% slower per start).',
  )
}
try {
  make([join(out, 'cordon-init')])
} catch {
  console.error(
    "cordon: warning: the runtime backends' init (cordon-init) did not build (x86_64 and aarch64 only): " +
      "under --backend runc|gvisor the command is the container's pid 1, which the kernel shields from " +
      'signals it does not handle (its own SIGPIPE too).',
  )
}
try {
  make(['-k', 'all'])
} catch {
  console.error(
    'cordon: warning: the escape battery (cordon-probes, for `cordon verify`) did not build: it needs a ' +
      'static libc (libc6-dev on Debian/Ubuntu, glibc-static on Fedora), then npm rebuild cordon. ' +
      'Everything else works.',
  )
}
