/* forward-signal.h — how a supervisor passes a signal of its job on to the launcher. */
#ifndef CORDON_FORWARD_SIGNAL_H
#define CORDON_FORWARD_SIGNAL_H

/* A signal cordon passes on to the command (--forwarded-signals): sent to the launcher as this
 * real-time signal with the signal's number as its payload (SI_QUEUE), so that the kernel never
 * merges it with the same signal sent to the whole job, which reaches the launcher directly too
 * (launcher.c is_copy counts the two). src/host/launcher.ts holds the same number. Whoever
 * starts the launcher starts it with this signal blocked (the addon's spawn, oci-launch.c's
 * helper), so that a forward sent before the launcher blocks it never meets its default action
 * (termination); the command gets the launcher's first mask without it. */
#define FORWARD_SIGNAL 61

#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* sig with value as its payload, from this process (SI_QUEUE, as sigqueue(3) sends it): for
 * pidfd_send_signal or rt_sigqueueinfo. Async-signal-safe (the addon's handler builds one). */
static inline siginfo_t queued_info(int sig, int value)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = value;
	return si;
}

/* --all-signals (cordon's run, learn and --audit; cordon-oci run and exec in the foreground):
 * the signals passed on to the command, SIGWINCH aside (launcher.c forwarded[] has it). runc
 * passes every signal on but SIGCHLD, SIGURG and SIGWINCH, which it handles itself; so does
 * cordon, less those it cannot take (SIGKILL, SIGSTOP), job control (SIGTSTP, SIGTTIN, SIGTTOU
 * and SIGCONT: launcher.c job_control stops and continues the command instead), glibc's own (32,
 * 33), and those below that the receiver's own fault or limit raises (forwarded_sent).
 * The rest of the real-time signals are passed on: SIGRTMIN+3 is systemd's "halt". */
static inline int forwarded_all(int sig)
{
	switch (sig) {
	case SIGHUP:
	case SIGINT:
	case SIGQUIT:
	case SIGUSR1:
	case SIGUSR2:
	case SIGALRM:
	case SIGTERM:
	case SIGSTKFLT:
	case SIGVTALRM:
	case SIGPROF:
	case SIGIO:
	case SIGPWR:
		return 1;
	default:
		return sig >= 34 && sig < _NSIG;
	}
}

/* --all-signals too, but only when another process sent them (sent_by_other): a fault
 * (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP), a seccomp trap (SIGSYS), an abort(3), a limit
 * (SIGXCPU, SIGXFSZ) or a write to a closed pipe (SIGPIPE) of the receiver's own is its own,
 * and takes the action it would take anyway. runc tells the two apart the same way (Go's
 * runtime, by si_code): `kill -SEGV <runc>` reaches the container's process, and ended cordon
 * (helper-131). */
static inline int forwarded_sent(int sig)
{
	switch (sig) {
	case SIGSEGV:
	case SIGBUS:
	case SIGFPE:
	case SIGILL:
	case SIGTRAP:
	case SIGSYS:
	case SIGABRT:
	case SIGXCPU:
	case SIGXFSZ:
	case SIGPIPE:
		return 1;
	default:
		return 0;
	}
}

/* Every signal --all-signals may pass on: always, or when sent. */
static inline int forwarded_any(int sig)
{
	return forwarded_all(sig) || forwarded_sent(sig);
}

/* glibc's own two, SIGCANCEL (32) and SIGSETXID (33): its sigaddset, sigdelset and sigprocmask
 * refuse them or leave them out, and a program of several threads (Node) handles them itself;
 * a single-threaded one, cordon's launcher among them, dies of either at its default action. A
 * job-wide `kill -33 -PGID` then ended the launcher and not the command: `cordon run` exited 125
 * without a word, where unsandboxed the command would have had the signal (runc passes 33 on:
 * Go's runtime catches every signal). So --all-signals passes them on too, set in masks by their
 * bits (add_raw) and blocked by the system call itself (sigmask_raw); the launcher makes no
 * thread, so glibc never needs them there. The command gets the mask cordon was started with. */
static inline int glibc_own(int sig)
{
	return sig == 32 || sig == 33;
}

/* sigaddset for any signal, glibc's own included. */
static inline void add_raw(sigset_t *set, int sig)
{
	unsigned long *word = (unsigned long *)(void *)set;
	unsigned bits = 8 * sizeof *word;
	word[(unsigned)(sig - 1) / bits] |= 1UL << ((unsigned)(sig - 1) % bits);
}

/* glibc's own two, added to set. */
static inline void add_glibc_own(sigset_t *set)
{
	add_raw(set, 32);
	add_raw(set, 33);
}

/* sigprocmask, glibc's own included: the kernel's mask is 8 bytes (_NSIG 65). */
static inline int sigmask_raw(int how, const sigset_t *set, sigset_t *old)
{
	if (old)
		sigemptyset(old); /* the kernel fills its 8 bytes of glibc's 128 */
	return (int)syscall(SYS_rt_sigprocmask, how, set, old, (_NSIG - 1) / 8);
}

/* Whether a signal with this si_code and si_pid came from another process: kill(2),
 * sigqueue(3), tgkill(2). The kernel's own (a fault, SI_KERNEL) have a positive code; the few
 * it sends as SI_USER (SIGPIPE, SIGXFSZ: send_sig) carry the receiver's pid, as do the
 * receiver's own abort(3) and raise(3) (SI_TKILL). A sender in no namespace of the receiver's
 * shows as pid 0: another process too. */
static inline int sent_by_other(int code, pid_t pid)
{
	return (code == SI_USER || code == SI_QUEUE || code == SI_TKILL) && pid != getpid();
}

#endif
