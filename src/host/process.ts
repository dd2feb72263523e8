// Whether a process exists, for records (registry entries, cgroups) named after their owner.

/** true while pid exists, zombies included (EPERM: it exists and is not ours). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
