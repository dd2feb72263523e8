// Builds the C launcher at install time with the system C compiler (no prebuilt downloads),
// and puts it where the `cordon-exec` bin points.
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs'
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
mkdirSync(join(root, 'bin'), { recursive: true })
copyFileSync(join(root, 'build', 'native', 'cordon-exec'), join(root, 'bin', 'cordon-exec'))
chmodSync(join(root, 'bin', 'cordon-exec'), 0o755)
