// Builds the C launcher at install time with the system C compiler (no prebuilt downloads)
// into build/native/cordon-exec, where the `cordon-exec` bin shim finds it.
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
try {
  execFileSync('make', ['-s', '-C', join(root, 'native'), `OUT=${join(root, 'build', 'native')}`], {
    stdio: 'inherit',
  })
} catch {
  console.error(
    'cordon: building the launcher failed. It needs a C compiler and make: ' +
      'apt-get install build-essential (Debian/Ubuntu), dnf install gcc make (Fedora), then npm rebuild cordon',
  )
  process.exit(1)
}
