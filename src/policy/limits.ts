// What a policy limits: the rlimit numbers the plan carries.

/** RLIMIT_* numbers (the same on every Linux architecture cordon supports). */
export const RLIMITS: Readonly<Record<string, number>> = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
}
