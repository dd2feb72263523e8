/* init-guard.h — the command may not lower the priority of the sandbox's init.
 *
 * init (pid 1 of the sandbox's own pid namespace) counts the spawns the monitor's fork-storm
 * rule weighs and carries out its freeze. It shares the command's ids, so the kernel lets the
 * command renice it to 19, make it SCHED_IDLE or pin it to one CPU: a fork bomb that did so
 * before each fork kept init off the CPU and delayed its freeze by seconds. Non-dumpable, init
 * is already out of reach of ptrace and /proc/1/fd; this closes the scheduler's calls. */
#ifndef CORDON_INIT_GUARD_H
#define CORDON_INIT_GUARD_H

/* The command, before its exec: stacks a filter that answers EPERM (what the kernel answers a
 * process that may not change another's priority) to setpriority and ioprio_set on pid 1, on
 * process group 1 (init's alone: the command leads a session of its own) and on a whole user
 * (init shares the command's uid), to sched_setscheduler, sched_setparam, sched_setattr and
 * sched_setaffinity on pid 1, and to prlimit64 setting a limit of pid 1, on the native entry and
 * on x86_64's i386 one (int 0x80). Reading them stays allowed. Dies on failure. Its refusals
 * come before the policy's filter, so a monitor watching these calls would not see them: a plan
 * whose filter refuses the same (the plan compiler's `init-guard` layer, marked with
 * SECCOMP_FLAG_GUARDS_INIT) needs no guard; this one is for a plan without that layer. */
void init_guard_install(void);

#endif
