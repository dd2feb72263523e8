// A path or command name in a line a person reads. One longer than any the kernel takes (4095
// bytes) is shown by its start and its end, where the part that tells two apart usually is: a
// 60 KB command name the kernel refused filled the terminal with it (helper-115, helper-117).
// Events carry it whole, up to the launcher's own cut (native/events.c STRING_MAX_BYTES).

const READABLE_CHARS = 200

export function shortened(path: string): string {
  return path.length <= READABLE_CHARS ? path : `${path.slice(0, 100)}…${path.slice(-60)}`
}
